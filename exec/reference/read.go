package reference

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"gocloud.dev/blob"

	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/specs"
)

// ReadObject reads every row group of one raw Parquet object with package reader,
// projecting the columns that reg's aggregations need (specs.UnionRawColumns),
// and returns its rows as points. It holds the whole object in memory: it is meant
// for tests and small lakes, where the reference checks the executor.
func ReadObject(ctx context.Context, b *blob.Bucket, reg *specs.Registry, obj reader.Object) ([]Point, error) {
	f, err := reader.OpenFile(ctx, b, obj)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	pts, err := readFile(ctx, f, reg)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("reference: close %s: %w", obj.Key, cerr)
	}
	return pts, err
}

func readFile(ctx context.Context, f *reader.File, reg *specs.Registry) ([]Point, error) {
	cols, err := f.Resolve(&reg.Source, specs.UnionRawColumns(reg))
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	var pts []Point
	for rg := 0; rg < f.NumRowGroups(); rg++ {
		rec, err := f.ReadRowGroup(ctx, cols, rg, memory.DefaultAllocator)
		if err != nil {
			return nil, fmt.Errorf("reference: %w", err)
		}
		pts, err = AppendRecord(pts, &reg.Source, rec)
		rec.Release()
		if err != nil {
			return nil, fmt.Errorf("%s, row group %d: %w", f.Obj.Key, rg, err)
		}
	}
	return pts, nil
}

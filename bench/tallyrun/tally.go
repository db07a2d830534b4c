package tallyrun

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/tallyhq/tally/backfill"
	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer"
)

// fileURL turns a local folder into a file:// URL.
func fileURL(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return "file://" + filepath.ToSlash(abs), nil
}

// RunTally runs tally's whole backfill job (plan, read, aggregate, write rollups and
// manifests) over [from, to) of the lake into outDir.
func RunTally(ctx context.Context, reg *specs.Registry, lakeDir string, from, to time.Time, threads int, outDir string) (*writer.RunSummary, error) {
	src, err := fileURL(lakeDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	out, err := fileURL(outDir)
	if err != nil {
		return nil, err
	}
	return backfill.Run(ctx, backfill.Config{
		Registry: reg, From: from, To: to, SourceURL: src, Out: out,
		Parallelism: threads, Force: true, RunID: "bench",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// TallyOutputs lists tally's rollup files of aggregation agg under outDir.
func TallyOutputs(outDir, agg string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(outDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(outDir, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if !d.IsDir() && strings.HasSuffix(p, writer.RollupExt) && len(parts) > 2 &&
			strings.HasPrefix(parts[0], writer.TenantPrefix) && parts[1] == agg {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// DecodeOnly reads every row group of the lake with tally's reader (the columns the
// registry needs, ReadRowGroup and nothing else) on `threads` goroutines and returns
// the rows decoded: the floor under tally's own time.
func DecodeOnly(ctx context.Context, reg *specs.Registry, lakeDir string, threads int) (int64, error) {
	files, err := LakeFiles(lakeDir)
	if err != nil {
		return 0, err
	}
	lakeURL, err := fileURL(lakeDir)
	if err != nil {
		return 0, err
	}
	b, err := reader.OpenBucket(ctx, lakeURL)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	need := specs.UnionRawColumns(reg)
	type unit struct {
		f    *reader.File
		cols *reader.Columns
		rg   int
	}
	var units []unit
	for _, p := range files {
		st, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		rel, err := filepath.Rel(strings.TrimPrefix(lakeURL, "file://"), p)
		if err != nil {
			return 0, err
		}
		f, err := reader.OpenFile(ctx, b, reader.Object{Key: filepath.ToSlash(rel), Size: st.Size()})
		if err != nil {
			return 0, err
		}
		cols, err := f.Resolve(&reg.Source, need)
		if err != nil {
			return 0, err
		}
		for rg := 0; rg < f.NumRowGroups(); rg++ {
			units = append(units, unit{f, cols, rg})
		}
	}
	rows := make([]int64, len(units))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(threads)
	for i, u := range units {
		g.Go(func() error {
			rec, err := u.f.ReadRowGroup(gctx, u.cols, u.rg, memory.DefaultAllocator)
			if err != nil {
				return fmt.Errorf("decode %s row group %d: %w", u.f.Obj.Key, u.rg, err)
			}
			rows[i] = rec.NumRows()
			rec.Release()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	var n int64
	for _, r := range rows {
		n += r
	}
	return n, nil
}

package reader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"golang.org/x/sync/errgroup"
)

// fetchConcurrency bounds the ranged reads of one ReadRowGroup call.
const fetchConcurrency = 8

// maxPageBytes bounds the compressed and uncompressed size a page header may declare
// (writers default to 1 MiB pages); a larger claim is treated as corruption instead
// of being allocated.
const maxPageBytes = 64 << 20

// decodeBufferSize is the buffer the Parquet decoder reads prefetched chunks through.
const decodeBufferSize = 64 << 10

// chunk is one prefetched byte range of the object.
type chunk struct {
	off  int64
	data []byte
}

// chunkSource serves the Parquet decoder from the prefetched column chunks. A read
// outside them (which the decoder does not do for chunks listed in the footer) falls
// back to a ranged read, and is counted like any other.
type chunkSource struct {
	ctx    context.Context
	f      *File
	chunks []chunk // sorted by off, non-overlapping
	pos    int64
}

var _ parquet.ReaderAtSeeker = (*chunkSource)(nil)

func (s *chunkSource) ReadAt(p []byte, off int64) (int, error) {
	i := sort.Search(len(s.chunks), func(i int) bool { return s.chunks[i].off+int64(len(s.chunks[i].data)) > off })
	if i < len(s.chunks) && s.chunks[i].off <= off && off+int64(len(p)) <= s.chunks[i].off+int64(len(s.chunks[i].data)) {
		return copy(p, s.chunks[i].data[off-s.chunks[i].off:]), nil
	}
	if off < 0 || off >= s.f.Obj.Size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if off+n > s.f.Obj.Size {
		n = s.f.Obj.Size - off
	}
	if err := s.f.fetchInto(s.ctx, p[:n], off); err != nil {
		return 0, err
	}
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

func (s *chunkSource) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		s.pos = offset
	case io.SeekCurrent:
		s.pos += offset
	case io.SeekEnd:
		s.pos = s.f.Obj.Size + offset
	}
	if s.pos < 0 {
		return 0, errors.New("seek before the start of the object")
	}
	return s.pos, nil
}

// fetchRange is the byte range the decoder requests for a column chunk: chunkRange,
// plus the PARQUET-816 padding the decoder adds for files of old parquet-mr writers.
func (f *File) fetchRange(cc *metadata.ColumnChunkMetaData) (int64, int64) {
	start, length := chunkRange(cc)
	if f.Meta.WriterVersion().LessThan(metadata.Parquet816FixedVersion) {
		pad := f.Obj.Size - (start + length)
		if pad > 100 {
			pad = 100
		}
		if pad > 0 {
			length += pad
		}
	}
	return start, length
}

// ReadRowGroup fetches the projected column chunks of row group rg, each with one
// ranged read (up to 8 at once), decodes them and returns one record whose fields are
// the contract names of cols, in cols.Names() order, with the canonical types the
// package documentation lists. Times are int64 nanoseconds since the epoch, UTC.
// Optional columns the file lacks are all-null. The caller releases the record.
func (f *File) ReadRowGroup(ctx context.Context, cols *Columns, rg int, mem memory.Allocator) (arrow.Record, error) {
	if rg < 0 || rg >= f.NumRowGroups() {
		return nil, fmt.Errorf("read %s: row group %d does not exist (the file has %d)", f.Obj.Key, rg, f.NumRowGroups())
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	rgm := f.Meta.RowGroup(rg)
	nrows := rgm.NumRows()
	if nrows == 0 {
		// Nothing to fetch; empty row groups' chunk offsets are not validated.
		out := make([]arrow.Array, len(cols.cols))
		for i, col := range cols.cols {
			out[i] = array.MakeArrayOfNull(mem, col.Type, 0)
		}
		rec := array.NewRecordBatch(cols.schema, out, 0)
		for _, a := range out {
			a.Release()
		}
		return rec, nil
	}

	// Which leaves to read, in record order, and the top-level field of each column.
	var leafOrder []int
	seenField := map[int]int{} // file field index → position in the decoded table
	stringLeaves := map[int]bool{}
	for _, col := range cols.cols {
		if !col.Present {
			continue
		}
		if _, ok := seenField[col.Field]; ok {
			continue
		}
		seenField[col.Field] = len(seenField)
		leafOrder = append(leafOrder, col.Leaves...)
		if col.kind == kindString {
			for _, l := range col.Leaves {
				stringLeaves[l] = true
			}
		}
	}

	src := &chunkSource{ctx: ctx, f: f}
	if err := f.prefetch(ctx, rgm, rg, leafOrder, src); err != nil {
		return nil, err
	}

	var columns [][]arrow.Array // per decoded field: its batches
	if len(leafOrder) > 0 {
		var err error
		columns, err = f.decode(ctx, src, rg, nrows, leafOrder, stringLeaves, mem)
		if err != nil {
			return nil, err
		}
		defer func() {
			for _, c := range columns {
				for _, a := range c {
					a.Release()
				}
			}
		}()
	}

	out := make([]arrow.Array, 0, len(cols.cols))
	release := func() {
		for _, a := range out {
			a.Release()
		}
	}
	for _, col := range cols.cols {
		var arr arrow.Array
		if !col.Present {
			arr = array.MakeArrayOfNull(mem, col.Type, int(nrows))
		} else {
			var err error
			arr, err = normalize(columns[seenField[col.Field]], &col, mem)
			if err != nil {
				release()
				return nil, fmt.Errorf("read %s row group %d: column %q (contract column %q): %w", f.Obj.Key, rg, col.Physical, col.Name, err)
			}
		}
		out = append(out, arr)
	}
	rec := array.NewRecordBatch(cols.schema, out, nrows)
	release()
	return rec, nil
}

// prefetch fetches every needed column chunk of the row group with one ranged read
// each, at most fetchConcurrency at a time.
func (f *File) prefetch(ctx context.Context, rgm *metadata.RowGroupMetaData, rg int, leafOrder []int, src *chunkSource) error {
	type rng struct{ off, n int64 }
	ranges := make([]rng, 0, len(leafOrder))
	for _, leaf := range leafOrder {
		cc, err := rgm.ColumnChunk(leaf)
		if err != nil {
			return f.corrupt("row group %d column %d: %v", rg, leaf, err)
		}
		off, n := f.fetchRange(cc)
		ranges = append(ranges, rng{off, n})
	}
	src.chunks = make([]chunk, len(ranges))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fetchConcurrency)
	for i, r := range ranges {
		g.Go(func() error {
			data, err := f.fetch(gctx, r.off, r.n)
			if err != nil {
				return err
			}
			src.chunks[i] = chunk{off: r.off, data: data}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("read %s row group %d: %w", f.Obj.Key, rg, err)
	}
	sort.Slice(src.chunks, func(i, j int) bool { return src.chunks[i].off < src.chunks[j].off })
	return nil
}

// maxBatchRows bounds the rows decoded per batch, so the decoder's allocations follow
// the data actually decoded, never a row count declared by the footer.
var maxBatchRows int64 = 1 << 20

// decode runs arrow's Parquet decoder over the prefetched chunks and returns, per
// decoded field (in the order of leafOrder's fields), its record batches' arrays.
// Strings are read as dictionaries. A decoder panic on a hostile page is an error.
func (f *File) decode(ctx context.Context, src *chunkSource, rg int, nrows int64, leafOrder []int, stringLeaves map[int]bool, mem memory.Allocator) (columns [][]arrow.Array, err error) {
	release := func() {
		for _, c := range columns {
			for _, a := range c {
				a.Release()
			}
		}
		columns = nil
	}
	defer func() {
		if r := recover(); r != nil {
			release()
			err = f.corrupt("row group %d cannot be decoded: %v", rg, r)
		}
	}()
	props := parquet.NewReaderProperties(mem)
	props.BufferedStreamEnabled = true
	props.BufferSize = decodeBufferSize
	props.MaxCompressedPageSize = maxPageBytes
	props.MaxUncompressedPageSize = maxPageBytes
	pr, err := file.NewParquetReader(src, file.WithMetadata(f.Meta), file.WithReadProps(props))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Obj.Key, err)
	}
	aprops := pqarrow.ArrowReadProperties{BatchSize: min(max(nrows, 1), maxBatchRows)}
	for leaf := range stringLeaves {
		aprops.SetReadDict(leaf, true)
	}
	fr, err := pqarrow.NewFileReader(pr, aprops, mem)
	if err != nil {
		return nil, f.corrupt("schema cannot be mapped to Arrow: %v", err)
	}
	rr, err := fr.GetRecordReader(ctx, leafOrder, []int{rg})
	if err != nil {
		return nil, f.corrupt("row group %d cannot be decoded: %v", rg, err)
	}
	defer rr.Release()
	columns = make([][]arrow.Array, rr.Schema().NumFields())
	var rows int64
	for rr.Next() {
		rec := rr.RecordBatch()
		rows += rec.NumRows()
		for i, c := range rec.Columns() {
			c.Retain()
			columns[i] = append(columns[i], c)
		}
		if rows > nrows {
			break
		}
	}
	if err := rr.Err(); err != nil {
		release()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w %s: row group %d cannot be decoded: %v", ErrCorrupt, f.Obj.Key, rg, err)
	}
	if rows != nrows {
		release()
		return nil, f.corrupt("row group %d decoded to %d rows but its metadata says %d", rg, rows, nrows)
	}
	return columns, nil
}

package reader

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/parquet/metadata"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// MaxFooterBytes bounds the Parquet metadata (footer) length the reader accepts. Real
// footers of telemetry segments are kilobytes to a few megabytes; a larger declared
// length is treated as a forged or corrupt object rather than allocated.
const MaxFooterBytes = 16 << 20

// Row counts are declared by the footer and drive the decoder's work: a few bytes of
// run-length encoding can claim billions of values. A row group may declare at most
// maxRowsPerByte rows per byte of its column chunks (real telemetry needs several bytes
// per row), or minRowLimit rows, whichever is more.
const (
	maxRowsPerByte = 1024
	minRowLimit    = 1 << 20
)

// footerTail is the fixed end of every Parquet file: a 4-byte little-endian
// metadata length followed by the magic "PAR1".
const footerTail = 8

var parquetMagic = []byte("PAR1")

// ErrCorrupt is wrapped by every error about an object that is not a valid Parquet
// file (truncated, forged lengths, garbage metadata). Such an object will not get
// better by retrying; the runner should report it and stop or skip it.
var ErrCorrupt = errors.New("corrupt parquet object")

// Object is one listed raw segment.
type Object struct {
	// Key is the object's key in the bucket (relative to the bucket's prefix).
	Key string `json:"key"`
	// Size is the object's size in bytes.
	Size int64 `json:"size"`
	// ETag identifies the object's content version, when the store reports one.
	ETag string `json:"etag,omitempty"`
	// ModTime is when the object was last written.
	ModTime time.Time `json:"mod_time,omitempty"`
}

// File is an opened Parquet object: its validated footer plus a counter of every
// byte fetched from it. A File is safe for concurrent use; ReadRowGroup may run for
// different row groups at once.
type File struct {
	// Obj is the object the file was opened from (Size filled in if it was unknown).
	Obj Object
	// Meta is the file's validated Parquet metadata.
	Meta *metadata.FileMetaData

	bucket      *blob.Bucket
	footerBytes int64
	fetched     atomic.Int64
	requests    atomic.Int64
}

// OpenFile reads and validates the footer of obj with two ranged reads (the last 8
// bytes, then the metadata they point to). It never reads the rest of the object.
// If obj.Size is 0 the object's attributes are fetched first.
//
// Every offset and length in the footer is checked against the object's size, so a
// truncated or forged object fails here with an error that names its key and wraps
// ErrCorrupt, instead of failing (or allocating wildly) later.
func OpenFile(ctx context.Context, b *blob.Bucket, obj Object) (*File, error) {
	f := &File{Obj: obj, bucket: b}
	if f.Obj.Size <= 0 {
		attrs, err := b.Attributes(ctx, obj.Key)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", obj.Key, err)
		}
		f.Obj.Size = attrs.Size
		if f.Obj.ETag == "" {
			f.Obj.ETag = attrs.ETag
		}
		if f.Obj.ModTime.IsZero() {
			f.Obj.ModTime = attrs.ModTime
		}
	}
	size := f.Obj.Size
	if size < int64(len(parquetMagic))+footerTail {
		return nil, f.corrupt("object is %d bytes, too small to be a Parquet file (at least 12)", size)
	}
	tail, err := f.fetch(ctx, size-footerTail, footerTail)
	if err != nil {
		return nil, fmt.Errorf("read footer of %s: %w", obj.Key, err)
	}
	if !bytes.Equal(tail[4:], parquetMagic) {
		if bytes.Equal(tail[4:], []byte("PARE")) {
			return nil, f.corrupt("the footer is encrypted (magic PARE); encrypted Parquet is not supported")
		}
		return nil, f.corrupt("no PAR1 magic at the end of the object; it is not a Parquet file or it is truncated")
	}
	metaLen := int64(binary.LittleEndian.Uint32(tail[:4]))
	if metaLen == 0 {
		return nil, f.corrupt("footer declares empty metadata")
	}
	if metaLen > size-footerTail-int64(len(parquetMagic)) {
		return nil, f.corrupt("footer declares %d bytes of metadata but the object is only %d bytes (truncated or forged)", metaLen, size)
	}
	if metaLen > MaxFooterBytes {
		return nil, f.corrupt("footer declares %d bytes of metadata, more than the %d accepted", metaLen, MaxFooterBytes)
	}
	raw, err := f.fetch(ctx, size-footerTail-metaLen, metaLen)
	if err != nil {
		return nil, fmt.Errorf("read footer of %s: %w", obj.Key, err)
	}
	f.footerBytes = f.fetched.Load()
	meta, err := parseMetadata(raw, size, metaLen)
	if err != nil {
		return nil, f.corrupt("%v", err)
	}
	f.Meta = meta
	return f, nil
}

// corrupt returns an ErrCorrupt error naming the object.
func (f *File) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w %s: %s", ErrCorrupt, f.Obj.Key, fmt.Sprintf(format, args...))
}

// parseMetadata decodes and validates the Thrift metadata. Arrow's parser is wrapped
// in recover: a malformed footer must be an error, never a crash.
func parseMetadata(raw []byte, size, metaLen int64) (meta *metadata.FileMetaData, err error) {
	defer func() {
		if r := recover(); r != nil {
			meta, err = nil, fmt.Errorf("malformed metadata: %v", r)
		}
	}()
	meta, err = metadata.NewFileMetaData(raw, nil)
	if err != nil {
		return nil, fmt.Errorf("malformed metadata: %w", err)
	}
	meta.SetSourceFileSize(size)
	if err := validateMetadata(meta, size-footerTail-metaLen); err != nil {
		return nil, err
	}
	return meta, nil
}

// validateMetadata checks that every column chunk lies inside the data area
// [4, dataEnd) of the object, so no later read or allocation is sized by a forged
// length.
func validateMetadata(meta *metadata.FileMetaData, dataEnd int64) error {
	if meta.IsSetEncryptionAlgorithm() {
		return errors.New("the file is encrypted; encrypted Parquet is not supported")
	}
	if meta.Schema == nil || meta.Schema.NumColumns() == 0 {
		return errors.New("the schema has no columns")
	}
	ncols := meta.Schema.NumColumns()
	if meta.NumRows < 0 {
		return fmt.Errorf("negative row count %d", meta.NumRows)
	}
	var rows int64
	for i := 0; i < meta.NumRowGroups(); i++ {
		rg := meta.RowGroups[i]
		if rg == nil {
			return fmt.Errorf("row group %d has no metadata", i)
		}
		if rg.NumRows < 0 {
			return fmt.Errorf("row group %d has a negative row count %d", i, rg.NumRows)
		}
		rows += rg.NumRows
		if len(rg.Columns) != ncols {
			return fmt.Errorf("row group %d has %d column chunks but the schema has %d columns", i, len(rg.Columns), ncols)
		}
		rgm := meta.RowGroup(i)
		var rgBytes int64
		for c := 0; c < ncols; c++ {
			if rg.Columns[c] == nil || rg.Columns[c].MetaData == nil {
				return fmt.Errorf("row group %d column %d has no chunk metadata", i, c)
			}
			if rg.Columns[c].IsSetFilePath() {
				return fmt.Errorf("row group %d column %d lives in another file (%q); external column chunks are not supported", i, c, rg.Columns[c].GetFilePath())
			}
			cc, err := rgm.ColumnChunk(c)
			if err != nil {
				return fmt.Errorf("row group %d column %d: %w", i, c, err)
			}
			if rg.NumRows == 0 {
				// An empty row group is never read. Writers leave odd offsets in it
				// (pyarrow: a dictionary page at 4 and data page offset 0).
				continue
			}
			start, length := chunkRange(cc)
			if start < int64(len(parquetMagic)) || length <= 0 || start >= dataEnd || length > dataEnd-start {
				return fmt.Errorf("row group %d column %q declares bytes [%d, %d) outside the data area [4, %d) of the object",
					i, cc.PathInSchema().String(), start, start+length, dataEnd)
			}
			if cc.NumValues() < 0 {
				return fmt.Errorf("row group %d column %q has a negative value count", i, cc.PathInSchema().String())
			}
			rgBytes += length
		}
		if limit := max(minRowLimit, maxRowsPerByte*rgBytes); rg.NumRows > limit {
			return fmt.Errorf("row group %d declares %d rows in %d bytes of column chunks, more than the %d rows per byte real data needs; the footer is forged or corrupt",
				i, rg.NumRows, rgBytes, maxRowsPerByte)
		}
	}
	if rows != meta.NumRows {
		return fmt.Errorf("row groups hold %d rows but the file declares %d", rows, meta.NumRows)
	}
	return nil
}

// chunkRange is the byte range of a column chunk: from its dictionary page (if any)
// to the end of its last data page. It is the range the Parquet reader requests.
func chunkRange(cc *metadata.ColumnChunkMetaData) (start, length int64) {
	start = cc.DataPageOffset()
	if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && start > cc.DictionaryPageOffset() {
		start = cc.DictionaryPageOffset()
	}
	return start, cc.TotalCompressedSize()
}

// fetch reads length bytes at off with one ranged read and counts them. length has
// been checked against the object's size by the caller.
func (f *File) fetch(ctx context.Context, off, length int64) ([]byte, error) {
	if off < 0 || length < 0 || off+length > f.Obj.Size {
		return nil, f.corrupt("read of bytes [%d, %d) is outside the object's %d bytes", off, off+length, f.Obj.Size)
	}
	buf := make([]byte, length)
	if err := f.fetchInto(ctx, buf, off); err != nil {
		return nil, err
	}
	return buf, nil
}

// fetchInto fills p from offset off with one ranged read and counts the bytes.
func (f *File) fetchInto(ctx context.Context, p []byte, off int64) error {
	r, err := f.bucket.NewRangeReader(ctx, f.Obj.Key, off, int64(len(p)), nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return fmt.Errorf("object %s is gone (deleted or rewritten since it was listed): %w", f.Obj.Key, err)
		}
		return fmt.Errorf("ranged read of %s [%d, %d): %w", f.Obj.Key, off, off+int64(len(p)), err)
	}
	f.requests.Add(1)
	if r.Size() != f.Obj.Size {
		r.Close()
		return fmt.Errorf("object %s is %d bytes now but was %d when listed; it changed, plan again", f.Obj.Key, r.Size(), f.Obj.Size)
	}
	n, err := io.ReadFull(r, p)
	f.fetched.Add(int64(n))
	if cerr := r.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return f.corrupt("object ended after %d of %d bytes at offset %d (truncated while reading)", n, len(p), off)
		}
		return fmt.Errorf("ranged read of %s [%d, %d): %w", f.Obj.Key, off, off+int64(len(p)), err)
	}
	return nil
}

// BytesFetched is every byte read from the object so far, footer included.
func (f *File) BytesFetched() int64 { return f.fetched.Load() }

// FooterBytes is what OpenFile fetched: the 8-byte tail plus the metadata.
func (f *File) FooterBytes() int64 { return f.footerBytes }

// Requests is the number of ranged reads issued so far, footer included.
func (f *File) Requests() int64 { return f.requests.Load() }

// NumRowGroups is the number of row groups in the file.
func (f *File) NumRowGroups() int { return f.Meta.NumRowGroups() }

// RowGroupRows is the number of rows of row group rg.
func (f *File) RowGroupRows(rg int) int64 { return f.Meta.RowGroups[rg].NumRows }

// Close releases the file. The bucket is not closed: it belongs to the caller.
func (f *File) Close() error { return nil }

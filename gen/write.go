package gen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"gocloud.dev/blob"
	"golang.org/x/sync/errgroup"

	// Blob drivers for GenerateURL.
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"
)

// Stats summarizes a generated lake.
type Stats struct {
	// Files, Rows and Bytes written (Rows includes duplicate copies).
	Files int   `json:"files"`
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
	// Series is the number of series of the fleet.
	Series int `json:"series"`
	// Duplicates is the number of extra copies written.
	Duplicates int64 `json:"duplicates"`
	// NaNs, Late, Resets and OutOfOrder count points (duplicate copies excluded)
	// with a NaN or +Inf value, a late ingest_time, the first point of a counter
	// epoch, and a displaced position in their file.
	NaNs       int64 `json:"nans"`
	Late       int64 `json:"late"`
	Resets     int64 `json:"resets"`
	OutOfOrder int64 `json:"out_of_order"`
}

func (s *Stats) add(o Stats) {
	s.Files += o.Files
	s.Rows += o.Rows
	s.Bytes += o.Bytes
	s.Duplicates += o.Duplicates
	s.NaNs += o.NaNs
	s.Late += o.Late
	s.Resets += o.Resets
	s.OutOfOrder += o.OutOfOrder
}

// count adds one written row.
func (s *Stats) count(r *row) {
	s.Rows++
	if r.dup {
		s.Duplicates++
		return
	}
	if r.nan {
		s.NaNs++
	}
	if r.late {
		s.Late++
	}
	if r.reset {
		s.Resets++
	}
	if r.displaced {
		s.OutOfOrder++
	}
}

// GenerateURL opens cfg.URL and generates the lake under it. A URL path is the lake's
// root folder: for file:// it is created if missing; for s3://, gs:// and azblob://
// it becomes the key prefix. A plain path without a scheme is a local folder.
func GenerateURL(ctx context.Context, cfg Config) (st Stats, err error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	if cfg.URL == "" {
		return Stats{}, errors.New("gen config: URL: required: the lake root, e.g. file:///data/lake or s3://bucket/raw")
	}
	b, err := openBucket(ctx, cfg.URL)
	if err != nil {
		return Stats{}, err
	}
	defer func() {
		if cerr := b.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", cfg.URL, cerr)
		}
	}()
	return Generate(ctx, b, cfg)
}

// openBucket opens a lake URL with gocloud, mapping a URL path to a key prefix.
func openBucket(ctx context.Context, raw string) (*blob.Bucket, error) {
	if !strings.Contains(raw, "://") {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return nil, fmt.Errorf("lake folder %q: %w", raw, err)
		}
		raw = (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("lake URL %q: %w", raw, err)
	}
	q := u.Query()
	if u.Scheme == "file" {
		for k, v := range map[string]string{"create_dir": "true", "no_tmp_dir": "true", "metadata": "skip"} {
			if !q.Has(k) {
				q.Set(k, v)
			}
		}
	} else if p := strings.Trim(u.Path, "/"); p != "" {
		if q.Has("prefix") {
			return nil, fmt.Errorf("lake URL %q: give the root folder either as the path or as ?prefix=, not both", raw)
		}
		q.Set("prefix", p+"/")
		u.Path = ""
	}
	u.RawQuery = q.Encode()
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("open lake %q: %w", raw, err)
	}
	return b, nil
}

// Generate writes the lake of cfg under the root of bucket; cfg.URL is not used.
// Files are written concurrently (cfg.Concurrency at a time); each object is
// complete or absent: a failed or cancelled run leaves no partial object, and
// a rerun overwrites the same keys with the same bytes.
func Generate(ctx context.Context, bucket *blob.Bucket, cfg Config) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	g := newGenerator(&cfg)
	limit := cfg.Concurrency
	if limit == 0 {
		limit = runtime.GOMAXPROCS(0)
	}
	var (
		mu    sync.Mutex
		total = Stats{Series: len(g.fleet.series)}
	)
	progress := func(int64) {}
	if cfg.Progress != nil {
		var pmu sync.Mutex
		progress = func(n int64) {
			pmu.Lock()
			defer pmu.Unlock()
			cfg.Progress(n)
		}
	}
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(limit)
	w := &fileWriter{g: g, schema: arrowSchema(&cfg), props: writerProperties(&cfg), progress: progress}
	for _, spec := range files(&cfg) {
		if ectx.Err() != nil {
			break
		}
		eg.Go(func() error {
			st, err := w.write(ectx, bucket, spec)
			if err != nil {
				return fmt.Errorf("write %s: %w", spec.key, err)
			}
			mu.Lock()
			total.add(st)
			mu.Unlock()
			return nil
		})
	}
	err := eg.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return total, err
}

// fileWriter writes files of one configuration; it is shared by the goroutines.
type fileWriter struct {
	g        *generator
	schema   *arrow.Schema
	props    *parquet.WriterProperties
	progress func(int64)
}

// write streams one file, one row group at a time. A file without rows is not created.
func (w *fileWriter) write(ctx context.Context, bucket *blob.Bucket, spec fileSpec) (st Stats, err error) {
	rows := w.g.newFileRows(spec)
	rb := newRecordBuilder(w.schema, w.g)
	defer rb.release()
	var out *object
	defer func() {
		if err != nil && out != nil {
			out.abort()
		}
	}()
	var r row
	limit := w.g.cfg.RowGroupRows
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		n := 0
		for n < limit && rows.next(&r) {
			rb.append(&r)
			st.count(&r)
			n++
		}
		if n == 0 {
			break
		}
		if out == nil {
			if out, err = openObject(ctx, bucket, spec.key, w.schema, w.props); err != nil {
				return st, err
			}
		}
		rec := rb.newRecord(n)
		err = out.fw.Write(rec)
		rec.Release()
		if err != nil {
			return st, fmt.Errorf("write row group: %w", err)
		}
		w.progress(int64(n))
		if n < limit {
			break
		}
	}
	if out == nil {
		return st, nil
	}
	if st.Bytes, err = out.close(); err != nil {
		return st, err
	}
	st.Files = 1
	return st, nil
}

// object is one Parquet file being written to a blob.
type object struct {
	bw     *blob.Writer
	cw     *countingWriter
	fw     *pqarrow.FileWriter
	cancel context.CancelFunc
	key    string
}

func openObject(ctx context.Context, bucket *blob.Bucket, key string, schema *arrow.Schema, props *parquet.WriterProperties) (*object, error) {
	wctx, cancel := context.WithCancel(ctx)
	bw, err := bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: "application/vnd.apache.parquet"})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("create object: %w", err)
	}
	cw := &countingWriter{w: bw}
	fw, err := pqarrow.NewFileWriter(schema, cw, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(memory.DefaultAllocator)))
	if err != nil {
		cancel()
		_ = bw.Close()
		return nil, fmt.Errorf("start Parquet writer: %w", err)
	}
	return &object{bw: bw, cw: cw, fw: fw, cancel: cancel, key: key}, nil
}

// close writes the footer and commits the object; it returns the object's size.
func (o *object) close() (int64, error) {
	defer o.cancel()
	if err := o.fw.Close(); err != nil {
		o.abort()
		return 0, fmt.Errorf("write Parquet footer: %w", err)
	}
	if err := o.bw.Close(); err != nil {
		return 0, fmt.Errorf("commit object: %w", err)
	}
	return o.cw.n, nil
}

// abort discards the object: cancelling the writer's context before Close aborts the upload.
func (o *object) abort() {
	o.cancel()
	_ = o.bw.Close()
}

// countingWriter counts bytes on their way to the blob; it hides the blob's Close
// so that the Parquet writer does not commit the object on its own.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

package writer

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/tallyhq/tally/reader"
)

// DefaultConcurrency is how many objects a Store writes, reads or deletes at once.
const DefaultConcurrency = 8

// MaxMetaBytes bounds every JSON object the store reads back (manifests, pending
// markers, run summaries): they are small, and a larger object is not one of ours.
const MaxMetaBytes = 64 << 20

// maxMetaBytes is MaxMetaBytes; tests lower it.
var maxMetaBytes int64 = MaxMetaBytes

// ErrNotFound is wrapped by the errors of reads of objects that do not exist.
var ErrNotFound = errors.New("not found")

// Store is the output tree of a backfill in one bucket (or bucket prefix): rollup
// files, task manifests, pending markers and run summaries. It is safe for concurrent
// use.
type Store struct {
	bucket      *blob.Bucket
	url         string
	now         func() time.Time
	concurrency int
	owned       bool
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock that stamps manifests and ages leftovers (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithConcurrency sets how many objects the store transfers at once (default
// DefaultConcurrency; values below 1 mean 1).
func WithConcurrency(n int) Option {
	return func(s *Store) { s.concurrency = max(n, 1) }
}

// NewStore returns a store over bucket, whose keys are relative to the output root.
// name is used in messages only (usually the output URL). The caller keeps owning
// bucket: Close does not close it.
func NewStore(bucket *blob.Bucket, name string, opts ...Option) *Store {
	s := &Store{bucket: bucket, url: name, now: time.Now, concurrency: DefaultConcurrency}
	for _, o := range opts {
		o(s)
	}
	return s
}

// OpenStore opens the output URL with reader.OpenBucket (file://, mem://, s3://, gs://,
// azblob://). A path after an object store's bucket name is a key prefix:
// s3://rollups/prod/tally?region=eu-west-1 writes under prod/tally/ of bucket rollups.
func OpenStore(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	// A local output directory is created, as any tool that writes files would.
	if u, err := url.Parse(rawURL); err == nil && u.Scheme == "file" && u.Path != "" {
		if err := os.MkdirAll(filepath.FromSlash(u.Path), 0o755); err != nil {
			return nil, fmt.Errorf("open output %s: %w", rawURL, err)
		}
	}
	b, err := reader.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("open output: %w", err)
	}
	s := NewStore(b, rawURL, opts...)
	s.owned = true
	return s, nil
}

// URL is the store's name, usually its output URL.
func (s *Store) URL() string { return s.url }

// Bucket is the bucket the store writes to.
func (s *Store) Bucket() *blob.Bucket { return s.bucket }

// Close closes the bucket if OpenStore opened it.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	if err := s.bucket.Close(); err != nil {
		return fmt.Errorf("close output %s: %w", s.url, err)
	}
	return nil
}

// put writes data to key atomically: the object becomes visible only when the write
// completes, and a cancelled ctx or a failed write leaves the previous object (or no
// object) in place.
func (s *Store) put(ctx context.Context, key, contentType string, data []byte) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	sum := md5.Sum(data)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType, ContentMD5: sum[:]})
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		cancel() // abort: nothing becomes visible
		_ = w.Close()
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		cancel()
		_ = w.Close()
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// get reads a small object, refusing one larger than maxMetaBytes. A missing object
// gives an error wrapping ErrNotFound.
func (s *Store) get(ctx context.Context, key string) ([]byte, error) {
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("read %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer r.Close()
	if r.Size() > maxMetaBytes {
		return nil, fmt.Errorf("read %s: object is %d bytes, more than the %d a tally metadata object may have; it was not written by tally", key, r.Size(), maxMetaBytes)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxMetaBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(data)) > maxMetaBytes {
		return nil, fmt.Errorf("read %s: object is more than %d bytes; it was not written by tally", key, maxMetaBytes)
	}
	return data, nil
}

// listKeys lists every object under prefix.
func (s *Store) listKeys(ctx context.Context, prefix string) ([]*blob.ListObject, error) {
	var out []*blob.ListObject
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s under %s: %w", prefix, s.url, err)
		}
		if !o.IsDir {
			out = append(out, o)
		}
	}
}

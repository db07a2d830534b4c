package planner_test

import (
	"context"
	"errors"
	"sort"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"
	"gocloud.dev/gcerrors"
)

// countingBucket is a blob driver that delegates to another bucket and records every
// listing's prefix and delimiter, so tests can prove which prefixes a plan lists.
type countingBucket struct {
	inner *blob.Bucket
	mu    sync.Mutex
	lists []string // "prefix|delimiter" of each first page
	reads int      // ranged reads
}

var _ driver.Bucket = (*countingBucket)(nil)

func newCountingBucket(inner *blob.Bucket) (*blob.Bucket, *countingBucket) {
	c := &countingBucket{inner: inner}
	return blob.NewBucket(c), c
}

func (c *countingBucket) listed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]string(nil), c.lists...)
	sort.Strings(out) // listings run concurrently
	return out
}

func (c *countingBucket) rangedReads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

func (c *countingBucket) ErrorCode(err error) gcerrors.ErrorCode { return gcerrors.Code(err) }
func (c *countingBucket) As(any) bool                            { return false }
func (c *countingBucket) ErrorAs(error, any) bool                { return false }
func (c *countingBucket) Close() error                           { return nil }

func (c *countingBucket) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	a, err := c.inner.Attributes(ctx, key)
	if err != nil {
		return nil, err
	}
	return &driver.Attributes{Size: a.Size, ModTime: a.ModTime, MD5: a.MD5, ETag: a.ETag}, nil
}

func (c *countingBucket) ListPaged(ctx context.Context, opts *driver.ListOptions) (*driver.ListPage, error) {
	if opts.PageToken == nil {
		c.mu.Lock()
		c.lists = append(c.lists, opts.Prefix+"|"+opts.Delimiter)
		c.mu.Unlock()
	}
	token := opts.PageToken
	if token == nil {
		token = blob.FirstPageToken
	}
	objs, next, err := c.inner.ListPage(ctx, token, max(opts.PageSize, 1000), &blob.ListOptions{Prefix: opts.Prefix, Delimiter: opts.Delimiter})
	if err != nil {
		return nil, err
	}
	page := &driver.ListPage{NextPageToken: next}
	for _, o := range objs {
		page.Objects = append(page.Objects, &driver.ListObject{Key: o.Key, ModTime: o.ModTime, Size: o.Size, MD5: o.MD5, IsDir: o.IsDir})
	}
	return page, nil
}

type countingReader struct {
	*blob.Reader
}

func (r countingReader) Attributes() *driver.ReaderAttributes {
	return &driver.ReaderAttributes{ContentType: r.ContentType(), ModTime: r.ModTime(), Size: r.Size()}
}
func (r countingReader) As(any) bool { return false }

func (c *countingBucket) NewRangeReader(ctx context.Context, key string, offset, length int64, _ *driver.ReaderOptions) (driver.Reader, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	r, err := c.inner.NewRangeReader(ctx, key, offset, length, nil)
	if err != nil {
		return nil, err
	}
	return countingReader{r}, nil
}

func (c *countingBucket) NewTypedWriter(ctx context.Context, key, contentType string, _ *driver.WriterOptions) (driver.Writer, error) {
	return c.inner.NewWriter(ctx, key, &blob.WriterOptions{ContentType: contentType})
}

func (c *countingBucket) Copy(ctx context.Context, dst, src string, _ *driver.CopyOptions) error {
	return c.inner.Copy(ctx, dst, src, nil)
}

func (c *countingBucket) Delete(ctx context.Context, key string, _ *driver.DeleteOptions) error {
	return c.inner.Delete(ctx, key)
}

func (c *countingBucket) SignedURL(context.Context, string, *driver.SignedURLOptions) (string, error) {
	return "", errors.New("counting bucket has no signed URLs")
}

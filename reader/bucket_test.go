package reader_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/tallyhq/tally/internal/s3test"
	"github.com/tallyhq/tally/reader"
)

// TestOpenBucket proves the supported URL forms open, a path in an s3:// URL becomes
// a key prefix, and bad URLs are errors naming the URL.
func TestOpenBucket(t *testing.T) {
	ctx := context.Background()
	s3url := s3test.Start(t, "lake")
	root, err := reader.OpenBucket(ctx, s3url)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := root.WriteAll(ctx, "raw/telemetry/dt=2026-11-01/hour=00/a.parquet", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	prefixed := strings.Replace(s3url, "s3://lake?", "s3://lake/raw/telemetry?", 1)
	b, err := reader.OpenBucket(ctx, prefixed)
	if err != nil {
		t.Fatalf("open %s: %v", prefixed, err)
	}
	defer b.Close()
	obj, err := b.List(nil).Next(ctx)
	if err != nil || obj.Key != "dt=2026-11-01/hour=00/a.parquet" {
		t.Fatalf("first key under the prefix = %v, %v; want dt=2026-11-01/hour=00/a.parquet", obj, err)
	}

	dir := t.TempDir()
	fb, err := reader.OpenBucket(ctx, "file://"+dir)
	if err != nil {
		t.Fatalf("file URL: %v", err)
	}
	fb.Close()
	mb, err := reader.OpenBucket(ctx, "mem://")
	if err != nil {
		t.Fatalf("mem URL: %v", err)
	}
	if _, err := mb.List(nil).Next(ctx); err != io.EOF {
		t.Fatalf("new mem bucket is not empty: %v", err)
	}
	mb.Close()

	for _, bad := range []string{"not a url", "ftp://host/x", "s3://lake/p?prefix=q/", "file:///no/such/dir/for/tally"} {
		_, err := reader.OpenBucket(ctx, bad)
		if err == nil {
			t.Errorf("OpenBucket(%q) succeeded, want an error", bad)
			continue
		}
		if !strings.Contains(err.Error(), bad) {
			t.Errorf("error %q does not name the URL %q", err, bad)
		}
	}
}

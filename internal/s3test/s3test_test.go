package s3test_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/tallyhq/tally/internal/s3test"
)

// TestStartServesS3 proves the returned URL opens with gocloud's s3blob and that
// writes, ranged reads and delimiter listings round-trip.
func TestStartServesS3(t *testing.T) {
	url := s3test.Start(t, "lake")
	if !strings.HasPrefix(url, "s3://lake?endpoint=http://127.0.0.1:") {
		t.Fatalf("url = %q, want an s3:// URL on 127.0.0.1", url)
	}
	ctx := context.Background()
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	defer b.Close()
	payload := bytes.Repeat([]byte("0123456789"), 1000)
	for _, key := range []string{"dt=2026-11-01/hour=00/a.parquet", "dt=2026-11-01/hour=01/b.parquet"} {
		if err := b.WriteAll(ctx, key, payload, nil); err != nil {
			t.Fatalf("write %s: %v", key, err)
		}
	}
	r, err := b.NewRangeReader(ctx, "dt=2026-11-01/hour=00/a.parquet", 1005, 10, nil)
	if err != nil {
		t.Fatalf("range read: %v", err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != "5678901234" {
		t.Fatalf("range read = %q, %v; want 5678901234", got, err)
	}
	it := b.List(&blob.ListOptions{Prefix: "dt=2026-11-01/", Delimiter: "/"})
	var dirs []string
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		dirs = append(dirs, obj.Key)
	}
	if strings.Join(dirs, ",") != "dt=2026-11-01/hour=00/,dt=2026-11-01/hour=01/" {
		t.Fatalf("delimiter listing = %v", dirs)
	}
}

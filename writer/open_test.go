package writer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenStoreCreatesLocalDirectory: a file:// output that does not exist yet is created.
func TestOpenStoreCreatesLocalDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "rollups")
	s, err := OpenStore(context.Background(), "file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("output directory not created: %v", err)
	}
}

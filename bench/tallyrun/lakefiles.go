package tallyrun

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LakeFiles lists the Parquet files under dir, sorted.
func LakeFiles(dir string) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	err = filepath.WalkDir(abs, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list lake %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("lake %s has no Parquet files: generate it first", dir)
	}
	sort.Strings(files)
	return files, nil
}

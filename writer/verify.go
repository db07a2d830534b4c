package writer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"sync"

	"gocloud.dev/gcerrors"
	"golang.org/x/sync/errgroup"
)

// OutputProblem is an output object of a manifest that is not as committed.
type OutputProblem struct {
	Key string `json:"key"`
	// Problem is "missing", "size" or "sha256"; Detail says what was found.
	Problem string `json:"problem"`
	Detail  string `json:"detail"`
}

// Verify checks that every output object m lists exists with the committed size and,
// when deep is true, the committed SHA-256 (which reads every byte). It returns the
// problems sorted by key; an error means the check itself could not run.
func (s *Store) Verify(ctx context.Context, m *Manifest, deep bool) ([]OutputProblem, error) {
	var (
		mu       sync.Mutex
		problems []OutputProblem
	)
	report := func(p OutputProblem) {
		mu.Lock()
		problems = append(problems, p)
		mu.Unlock()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for _, o := range m.Outputs {
		g.Go(func() error {
			attrs, err := s.bucket.Attributes(gctx, o.Key)
			if gcerrors.Code(err) == gcerrors.NotFound {
				report(OutputProblem{Key: o.Key, Problem: "missing", Detail: "the object does not exist; rerun the task with --force"})
				return nil
			}
			if err != nil {
				return fmt.Errorf("verify task %s: %s: %w", m.TaskID, o.Key, err)
			}
			if attrs.Size != o.Bytes {
				report(OutputProblem{Key: o.Key, Problem: "size", Detail: fmt.Sprintf("%d bytes, committed %d", attrs.Size, o.Bytes)})
				return nil
			}
			if !deep {
				return nil
			}
			sum, err := s.sha256(gctx, o.Key)
			if err != nil {
				return fmt.Errorf("verify task %s: %w", m.TaskID, err)
			}
			if sum != o.SHA256 {
				report(OutputProblem{Key: o.Key, Problem: "sha256", Detail: fmt.Sprintf("sha256 %s, committed %s", sum, o.SHA256)})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.Slice(problems, func(a, b int) bool { return problems[a].Key < problems[b].Key })
	return problems, nil
}

// sha256 streams an object through SHA-256.
func (s *Store) sha256(ctx context.Context, key string) (string, error) {
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

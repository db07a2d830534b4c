package writer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"gocloud.dev/gcerrors"
	"golang.org/x/sync/errgroup"
)

// Leftover is an object of the output tree that no manifest names: a rollup file of
// an old spec version, of a tenant that has no rows any more, of a run killed before
// its commit, or a temporary file of an interrupted write.
type Leftover struct {
	Key     string    `json:"key"`
	TaskID  string    `json:"task_id,omitempty"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	// Reason says why no manifest names the object.
	Reason string `json:"reason"`
}

// ObsoleteOptions narrows Obsolete.
type ObsoleteOptions struct {
	// TaskIDs limits the search to these tasks (all tasks when empty).
	TaskIDs []string
	// MinAge skips objects modified less than MinAge ago, so the files of a run that is
	// still writing (not yet committed) are not reported. Zero reports everything:
	// use it only when no run writes to the store.
	MinAge time.Duration
}

// Obsolete lists the objects under the rollup tree (tenant=…/) that their task's
// manifest does not name, sorted by key. Objects whose keys tally cannot have written
// are never reported. It deletes nothing; see Clean.
func (s *Store) Obsolete(ctx context.Context, opts ObsoleteOptions) ([]Leftover, error) {
	only := map[string]bool{}
	for _, id := range opts.TaskIDs {
		if err := CheckID("task", id); err != nil {
			return nil, fmt.Errorf("obsolete: %w", err)
		}
		only[id] = true
	}
	objs, err := s.listKeys(ctx, TenantPrefix)
	if err != nil {
		return nil, fmt.Errorf("obsolete objects of %s: %w", s.url, err)
	}
	now := s.now()
	type cand struct {
		obj *blobObject
		ref RollupRef
		tmp bool
	}
	var cands []cand
	tasks := map[string]bool{}
	for _, o := range objs {
		key, tmp := o.Key, false
		if base, ok := tempBase(key); ok {
			key, tmp = base, true
		}
		ref, ok := ParseRollupKey(key)
		if !ok {
			continue
		}
		if len(only) > 0 && !only[ref.TaskID] {
			continue
		}
		if opts.MinAge > 0 && now.Sub(o.ModTime) < opts.MinAge {
			continue
		}
		cands = append(cands, cand{obj: &blobObject{Key: o.Key, Size: o.Size, ModTime: o.ModTime}, ref: ref, tmp: tmp})
		tasks[ref.TaskID] = true
	}
	manifests, err := s.manifestsOf(ctx, tasks)
	if err != nil {
		return nil, fmt.Errorf("obsolete objects of %s: %w", s.url, err)
	}
	var out []Leftover
	for _, c := range cands {
		l := Leftover{Key: c.obj.Key, TaskID: c.ref.TaskID, Size: c.obj.Size, ModTime: c.obj.ModTime.UTC()}
		if c.tmp {
			l.Reason = "temporary file of an interrupted write"
			out = append(out, l)
			continue
		}
		reason, obsolete := leftoverReason(manifests[c.ref.TaskID], c.obj.Key, c.ref)
		if obsolete {
			l.Reason = reason
			out = append(out, l)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	return out, nil
}

// blobObject is the part of a listing Obsolete keeps.
type blobObject struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// leftoverReason says why the manifest m (nil when the task has none) does not name
// key, or false when it does.
func leftoverReason(m *Manifest, key string, ref RollupRef) (string, bool) {
	if m == nil {
		return fmt.Sprintf("task %s has no manifest: written by a run that did not commit", ref.TaskID), true
	}
	for _, o := range m.Outputs {
		if o.Key == key {
			return "", false
		}
	}
	for _, sp := range m.Specs {
		if sp.Name != ref.Aggregation {
			continue
		}
		if sp.Version != ref.SpecVersion {
			return fmt.Sprintf("spec version %s of %s was replaced by %s (committed by run %s)", ref.SpecVersion, ref.Aggregation, sp.Version, m.RunID), true
		}
		return fmt.Sprintf("tenant %q has no rows of %s in the task's last commit (run %s)", ref.Tenant, ref.Aggregation, m.RunID), true
	}
	return fmt.Sprintf("aggregation %s is no longer computed by the task (last commit by run %s)", ref.Aggregation, m.RunID), true
}

// manifestsOf reads the manifests of the given tasks that have one.
func (s *Store) manifestsOf(ctx context.Context, tasks map[string]bool) (map[string]*Manifest, error) {
	ids, err := s.ManifestIDs(ctx)
	if err != nil {
		return nil, err
	}
	var want []string
	for _, id := range ids {
		if tasks[id] {
			want = append(want, id)
		}
	}
	ms, err := s.readManifests(ctx, want)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Manifest, len(ms))
	for _, m := range ms {
		out[m.TaskID] = m
	}
	return out, nil
}

// tempBase recognizes the temporary files of fileblob writes (<key>.<hex>.tmp, next
// to the key when the bucket uses no_tmp_dir) and returns the key being written.
func tempBase(key string) (string, bool) {
	rest, ok := strings.CutSuffix(key, ".tmp")
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 || i == len(rest)-1 {
		return "", false
	}
	for _, c := range rest[i+1:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", false
		}
	}
	return rest[:i], true
}

// Clean deletes leftovers found by Obsolete and returns how many it deleted. Just
// before deleting, it checks again that the task's manifest does not name the object
// and that the object was not rewritten since it was listed (a rerun may have
// written and committed it since); such objects are kept. Missing objects are not
// errors. All deletions are attempted; the errors are joined.
func (s *Store) Clean(ctx context.Context, leftovers []Leftover) (int, error) {
	tasks := map[string]bool{}
	for _, l := range leftovers {
		if l.TaskID != "" {
			tasks[l.TaskID] = true
		}
	}
	manifests, err := s.manifestsOf(ctx, tasks)
	if err != nil {
		return 0, fmt.Errorf("clean %s: %w", s.url, err)
	}
	var (
		mu      sync.Mutex
		deleted int
		errs    []error
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for _, l := range leftovers {
		g.Go(func() error {
			err := s.cleanOne(gctx, l, manifests)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, errKept):
			case err != nil:
				errs = append(errs, err)
			default:
				deleted++
			}
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return deleted, fmt.Errorf("clean %s: %w", s.url, errors.Join(errs...))
	}
	return deleted, nil
}

// errKept marks a leftover Clean decided to keep.
var errKept = errors.New("kept")

func (s *Store) cleanOne(ctx context.Context, l Leftover, manifests map[string]*Manifest) error {
	key := l.Key
	if base, ok := tempBase(key); ok {
		key = base
	}
	ref, ok := ParseRollupKey(key)
	if !ok {
		return fmt.Errorf("delete %s: not a rollup object; clean deletes only rollup files", l.Key)
	}
	if l.Key == key { // not a temporary file: it must still be unnamed
		if _, obsolete := leftoverReason(manifests[ref.TaskID], key, ref); !obsolete {
			return errKept
		}
	}
	attrs, err := s.bucket.Attributes(ctx, l.Key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return errKept
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", l.Key, err)
	}
	// Listings and HEAD requests may report times at different precisions (S3: ms vs s).
	if !attrs.ModTime.Truncate(time.Second).Equal(l.ModTime.Truncate(time.Second)) || attrs.Size != l.Size {
		return errKept
	}
	if err := s.bucket.Delete(ctx, l.Key); err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return errKept
		}
		return fmt.Errorf("delete %s: %w", l.Key, err)
	}
	return nil
}

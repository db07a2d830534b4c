package planner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"gocloud.dev/blob"
	"golang.org/x/sync/errgroup"

	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/specs"
)

// DefaultConcurrency is how many listings and footer reads run at once by default:
// they are small, latency-bound requests.
const DefaultConcurrency = 16

// Options tune Build. The zero value is valid.
type Options struct {
	// Concurrency bounds concurrent listings and footer reads (default DefaultConcurrency).
	Concurrency int
	// SourceURL is recorded as Plan.Source (default: the registry's source.url). Set it
	// when the bucket was opened from another URL (tally plan --source).
	SourceURL string
	// Columns overrides the projection (default specs.UnionRawColumns(reg)).
	Columns []string
	// Lookback overrides how far before each slice predecessors of cumulative points
	// are looked for (default: the largest staleness of the registry's cumulative
	// aggregations, 0 when there are none). Negative means none.
	Lookback time.Duration
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Concurrency < 0 {
		return fmt.Errorf("planner options: concurrency %d is negative", o.Concurrency)
	}
	if o.Lookback > 24*time.Hour {
		return fmt.Errorf("planner options: lookback %s is more than 24h", o.Lookback)
	}
	return nil
}

// fileInfo is what Build learned from one footer.
type fileInfo struct {
	l   listed
	rgs []rgInfo
}

type rgInfo struct {
	rows     int64
	needed   int64
	lo, hi   int64 // event-time range used for placement, ns, inclusive
	hasStats bool
	tenant   string
	single   bool
	// filled while cutting tasks
	kept  bool
	tasks []string
}

// Build plans a backfill of the registry's aggregations over [from, to): it lists the
// layout's partitions that overlap the range, reads every footer (concurrently),
// prunes row groups by time statistics and cuts tasks. from and to must be aligned to
// the registry's largest window, and from must be before to. A range without data is
// an empty plan (no tasks), not an error; Plan.Notes say so.
func Build(ctx context.Context, b *blob.Bucket, reg *specs.Registry, from, to time.Time, opt Options) (*Plan, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if reg == nil || len(reg.Aggregations) == 0 {
		return nil, errors.New("plan: the registry has no aggregations")
	}
	from, to = from.UTC(), to.UTC()
	window := reg.MaxWindow()
	if err := checkRange(from, to, window); err != nil {
		return nil, err
	}
	layout := reg.Source.Layout
	if layout == "" {
		layout = specs.DefaultLayout
	}
	slice := sliceLength(window, partitionSize(layout))
	lookback := opt.Lookback
	if lookback == 0 {
		lookback = registryLookback(reg)
	}
	if lookback < 0 {
		lookback = 0
	}
	conc := opt.Concurrency
	if conc == 0 {
		conc = DefaultConcurrency
	}
	cols := opt.Columns
	if cols == nil {
		cols = specs.UnionRawColumns(reg)
	}
	srcURL := opt.SourceURL
	if srcURL == "" {
		srcURL = reg.Source.URL
	}

	p := &Plan{
		Format: FormatVersion, Registry: reg.Path, RegistryVersions: map[string]string{},
		Source: srcURL, Layout: layout, From: from, To: to,
		Slice: specs.FormatWindow(slice), Lookback: "0s", Columns: cols,
		Files: []PlannedFile{}, Tasks: []Task{},
	}
	if lookback > 0 {
		p.Lookback = lookback.String()
	}
	for _, a := range reg.Aggregations {
		p.RegistryVersions[a.Name] = a.Version
	}

	ls := &lister{b: b, concurrency: conc}
	objs, err := ls.list(ctx, layout, from.Add(-lookback), to)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", srcURL, err)
	}
	p.Stats.PrefixesListed, p.Stats.ObjectsListed, p.Stats.ObjectsSkipped = ls.prefixes, ls.objects, ls.skipped

	files, footerBytes, err := readFooters(ctx, b, &reg.Source, cols, objs, conc, from.Add(-lookback), to)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", srcURL, err)
	}
	p.Stats.FilesRead, p.Stats.FooterBytes = len(files), footerBytes

	cutTasks(p, files, reg.Source.Tenant, cols, from, to, slice, lookback)
	for _, f := range files {
		pf := PlannedFile{Key: f.l.obj.Key, Size: f.l.obj.Size, ETag: f.l.obj.ETag, ModTime: f.l.obj.ModTime, RowGroups: []PlannedRowGroup{}}
		for i, rg := range f.rgs {
			prg := PlannedRowGroup{Index: i, Rows: rg.rows, Kept: rg.kept, NeededBytes: rg.needed, Tasks: rg.tasks}
			if rg.hasStats {
				lo, hi := time.Unix(0, rg.lo).UTC(), time.Unix(0, rg.hi).UTC()
				prg.Min, prg.Max = &lo, &hi
			} else {
				p.Stats.RowGroupsWithoutStats++
			}
			if rg.single {
				prg.Tenant = rg.tenant
			}
			pf.Rows += rg.rows
			pf.RowGroups = append(pf.RowGroups, prg)
			p.Stats.RowGroups++
			if rg.kept {
				p.Stats.RowGroupsKept++
			} else {
				p.Stats.RowGroupsPruned++
			}
		}
		p.Files = append(p.Files, pf)
	}
	p.Stats.Tasks = len(p.Tasks)
	if p.Stats.NeededBytes > 0 {
		p.Stats.ReadAmplification = float64(p.Stats.BytesToFetch) / float64(p.Stats.NeededBytes)
	}
	switch {
	case len(objs) == 0:
		p.Notes = append(p.Notes, fmt.Sprintf("no data: %d partition prefixes listed under %s, no raw segments found", p.Stats.PrefixesListed, srcURL))
	case len(p.Tasks) == 0:
		p.Notes = append(p.Notes, fmt.Sprintf("no data: %d segments read, none holds events in [%s, %s)", len(files), from.Format(time.RFC3339), to.Format(time.RFC3339)))
	}
	if p.Stats.RowGroupsWithoutStats > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d row groups have no usable time statistics: they cannot be pruned and are assumed to hold only events of their partition", p.Stats.RowGroupsWithoutStats))
	}
	return p, nil
}

// checkRange requires from < to, both aligned to the largest window.
func checkRange(from, to time.Time, window time.Duration) error {
	if window <= 0 {
		return errors.New("plan: the registry's largest window is 0")
	}
	var errs []error
	for _, e := range []struct {
		name string
		t    time.Time
	}{{"from", from}, {"to", to}} {
		if e.t.UnixNano()%int64(window) != 0 {
			lo := time.Unix(0, e.t.UnixNano()-((e.t.UnixNano()%int64(window))+int64(window))%int64(window)).UTC()
			errs = append(errs, fmt.Errorf("--%s %s is not aligned to the registry's largest window %s: use %s or %s",
				e.name, e.t.Format(time.RFC3339Nano), specs.FormatWindow(window), lo.Format(time.RFC3339), lo.Add(window).Format(time.RFC3339)))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if !from.Before(to) {
		return fmt.Errorf("plan: the range [%s, %s) is empty: --from must be before --to", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return nil
}

// sliceLength is the least common multiple of the largest window and the partition
// size: slices never split a window and never cut a partition in two. Both divide a
// day, so the slice does too.
func sliceLength(window, part time.Duration) time.Duration {
	if part <= 0 {
		return window
	}
	a, b := window, part
	for b != 0 {
		a, b = b, a%b
	}
	return window / a * part
}

// registryLookback is the largest staleness of the cumulative aggregations.
func registryLookback(reg *specs.Registry) time.Duration {
	var l time.Duration
	for _, a := range reg.Aggregations {
		if a.Temporality == specs.TemporalityCumulative && a.Staleness > l {
			l = a.Staleness
		}
	}
	return l
}

// readFooters opens every listed object concurrently and records its row groups.
func readFooters(ctx context.Context, b *blob.Bucket, src *specs.Source, cols []string, objs []listed, conc int, from, to time.Time) ([]*fileInfo, int64, error) {
	files := make([]*fileInfo, len(objs))
	footer := make([]int64, len(objs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for i, l := range objs {
		g.Go(func() error {
			f, err := reader.OpenFile(gctx, b, l.obj)
			if err != nil {
				return err
			}
			defer f.Close()
			footer[i] = f.BytesFetched()
			rc, err := f.Resolve(src, cols)
			if err != nil {
				return err
			}
			fi := &fileInfo{l: l, rgs: make([]rgInfo, f.NumRowGroups())}
			for rg := range fi.rgs {
				info := &fi.rgs[rg]
				info.rows = f.RowGroupRows(rg)
				info.needed = f.NeededBytes(rc, rg)
				info.lo, info.hi, info.hasStats = f.RowGroupTimeRange(rc, rg)
				if !info.hasStats {
					// Trust the layout: a partition holds the events of its time range.
					// Flat lakes promise nothing: the row group may hold any time.
					s, e := l.partStart, l.partEnd
					if s.IsZero() {
						s, e = from, to
					}
					info.lo, info.hi = s.UnixNano(), e.UnixNano()-1
				}
				if src.Tenant != "" {
					info.tenant, info.single = f.RowGroupSingleValue(rc, src.Tenant, rg)
				}
			}
			files[i] = fi
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	var total int64
	for _, n := range footer {
		total += n
	}
	return files, total, nil
}

// rgRef names one row group of one file.
type rgRef struct {
	file *fileInfo
	rg   int
}

// cutTasks places every row group in the slices its time range overlaps, splits
// slices whose row groups are all single-tenant by tenant, and fills p.Tasks and the
// byte statistics.
func cutTasks(p *Plan, files []*fileInfo, tenantCol string, cols []string, from, to time.Time, slice, lookback time.Duration) {
	fromNS, toNS, sl := from.UnixNano(), to.UnixNano(), int64(slice)
	// Slice k covers [bound(k), bound(k+1)) where boundaries are multiples of slice
	// clipped to [from, to).
	first := floorDiv(fromNS, sl)
	nslices := floorDiv(toNS-1, sl) - first + 1
	bound := func(k int64) int64 { return min(max((first+k)*sl, fromNS), toNS) }
	sliceOf := func(t int64) int64 { return floorDiv(t, sl) - first }

	main := make([][]rgRef, nslices)
	back := make([][]rgRef, nslices)
	lb := int64(lookback)
	for _, f := range files {
		for i := range f.rgs {
			rg := &f.rgs[i]
			if rg.rows == 0 || rg.hi < fromNS-lb || rg.lo >= toNS {
				continue // pruned (an empty row group holds no event)
			}
			ref := rgRef{f, i}
			if rg.hi >= fromNS && rg.lo < toNS {
				a, z := sliceOf(max(rg.lo, fromNS)), sliceOf(min(rg.hi, toNS-1))
				for k := a; k <= z; k++ {
					main[k] = append(main[k], ref)
				}
			}
			if lb > 0 {
				// Slices whose lookback [start-lb, start) overlaps the row group and that
				// do not already read it: start in (lo, hi+lb].
				for k := max(sliceOf(max(rg.lo, fromNS)), 0); k < nslices; k++ {
					s := bound(k)
					if s > rg.hi+lb {
						break
					}
					if s <= rg.lo || (rg.lo < bound(k+1) && rg.hi >= s) {
						continue
					}
					back[k] = append(back[k], ref)
				}
			}
		}
	}

	hasTenant := false
	for _, c := range cols {
		if c == tenantCol && tenantCol != "" {
			hasTenant = true
		}
	}
	distinct := map[rgRef]bool{}
	for k := int64(0); k < nslices; k++ {
		if len(main[k]) == 0 {
			continue
		}
		start, end := time.Unix(0, bound(k)).UTC(), time.Unix(0, bound(k+1)).UTC()
		split := hasTenant
		for _, r := range main[k] {
			if !r.file.rgs[r.rg].single {
				split = false
				break
			}
		}
		byShard := map[string][]rgRef{}
		if split {
			for _, r := range main[k] {
				t := r.file.rgs[r.rg].tenant
				byShard[t] = append(byShard[t], r)
			}
		} else {
			byShard[""] = main[k]
		}
		for tenant, refs := range byShard {
			shard := ShardAll
			if split {
				shard = tenant
			}
			t := Task{Start: start, End: end, Shard: shard, Tenant: tenant}
			t.ID = TaskID(start, end, shard, tenant)
			t.Inputs, t.Bytes, t.Rows = inputs(refs)
			var lbRefs []rgRef
			for _, r := range back[k] {
				if !split || !r.file.rgs[r.rg].single || r.file.rgs[r.rg].tenant == tenant {
					lbRefs = append(lbRefs, r)
				}
			}
			t.Lookback, t.LookbackBytes, _ = inputs(lbRefs)
			for _, r := range refs {
				rg := &r.file.rgs[r.rg]
				rg.tasks = append(rg.tasks, t.ID)
				rg.kept = true
				distinct[r] = true
			}
			for _, r := range lbRefs {
				r.file.rgs[r.rg].kept = true
			}
			p.Tasks = append(p.Tasks, t)
			p.Stats.BytesToFetch += t.Bytes
			p.Stats.LookbackBytes += t.LookbackBytes
		}
	}
	for r := range distinct {
		p.Stats.NeededBytes += r.file.rgs[r.rg].needed
		p.Stats.Rows += r.file.rgs[r.rg].rows
	}
	sort.Slice(p.Tasks, func(i, j int) bool { return p.Tasks[i].ID < p.Tasks[j].ID })
	for _, f := range files {
		for i := range f.rgs {
			sort.Strings(f.rgs[i].tasks)
		}
	}
}

// inputs groups row groups by object, in key order, and sums their bytes and rows.
func inputs(refs []rgRef) ([]TaskInput, int64, int64) {
	byKey := map[string]*TaskInput{}
	var keys []string
	var bytes, rows int64
	for _, r := range refs {
		o := r.file.l.obj
		in, ok := byKey[o.Key]
		if !ok {
			in = &TaskInput{Key: o.Key, Size: o.Size, ETag: o.ETag}
			byKey[o.Key] = in
			keys = append(keys, o.Key)
		}
		in.RowGroups = append(in.RowGroups, r.rg)
		bytes += r.file.rgs[r.rg].needed
		rows += r.file.rgs[r.rg].rows
	}
	sort.Strings(keys)
	out := make([]TaskInput, 0, len(keys))
	for _, k := range keys {
		in := byKey[k]
		sort.Ints(in.RowGroups)
		out = append(out, *in)
	}
	return out, bytes, rows
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

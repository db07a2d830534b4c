package writer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/tallyhq/tally/exec"
)

// OutputObject is one rollup file a task wrote, as its manifest lists it.
type OutputObject struct {
	// Key is relative to the output root.
	Key         string `json:"key"`
	Aggregation string `json:"aggregation"`
	SpecVersion string `json:"spec_version"`
	Tenant      string `json:"tenant"`
	Rows        int64  `json:"rows"`
	Bytes       int64  `json:"bytes"`
	// SHA256 is the hex SHA-256 of the object's bytes.
	SHA256 string `json:"sha256"`
}

// WriteRollups writes one rollup file per aggregation and tenant of the task and
// returns them sorted by key. Rows are split by the value of meta.TenantDimension
// (kept in their order, so each file stays sorted); aggregations without Parquet
// output and tenants without rows write nothing. Keys come from RollupKey with
// meta.TaskID and meta.TaskStart, so a rerun overwrites the same objects. The task is
// not committed until its manifest is written (Commit); on error some files may have
// been written, and a rerun overwrites them.
func (s *Store) WriteRollups(ctx context.Context, rollups []exec.Rollup, meta FileMeta) ([]OutputObject, error) {
	if err := CheckID("task", meta.TaskID); err != nil {
		return nil, fmt.Errorf("write rollups: %w", err)
	}
	if meta.TaskStart.IsZero() {
		return nil, fmt.Errorf("write rollups of task %s: no task start (it names the dt= partition)", meta.TaskID)
	}
	type job struct {
		rollup exec.Rollup
		meta   FileMeta
		key    string
	}
	var jobs []job
	seen := map[string]bool{}
	for _, r := range rollups {
		if r.Agg == nil {
			return nil, fmt.Errorf("write rollups of task %s: a rollup has no aggregation", meta.TaskID)
		}
		if !r.Agg.Output.Parquet {
			continue
		}
		if seen[r.Agg.Name] {
			return nil, fmt.Errorf("write rollups of task %s: aggregation %s appears twice", meta.TaskID, r.Agg.Name)
		}
		seen[r.Agg.Name] = true
		ti := -1
		for i, d := range r.Agg.GroupBy {
			if d == meta.TenantDimension {
				ti = i
			}
		}
		if ti < 0 {
			return nil, fmt.Errorf("write rollups of task %s: aggregation %s does not group by the tenant dimension %q; every rollup lives under its tenant's prefix", meta.TaskID, r.Agg.Name, meta.TenantDimension)
		}
		if err := checkRows(r.Agg, r.Rows); err != nil {
			return nil, fmt.Errorf("write rollups of task %s, aggregation %s: %w", meta.TaskID, r.Agg.Name, err)
		}
		for _, part := range splitByTenant(r, ti) {
			m := meta
			m.Tenant = part.tenant
			jobs = append(jobs, job{
				rollup: part.rollup,
				meta:   m,
				key:    RollupKey(r.Agg, part.tenant, meta.TaskID, meta.TaskStart),
			})
		}
	}
	out := make([]OutputObject, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for i, j := range jobs {
		g.Go(func() error {
			data, err := EncodeRollup(j.rollup, j.meta)
			if err != nil {
				return err
			}
			if err := s.put(gctx, j.key, "application/vnd.apache.parquet", data); err != nil {
				return fmt.Errorf("write rollup of task %s to %s: %w", meta.TaskID, s.url, err)
			}
			sum := sha256.Sum256(data)
			out[i] = OutputObject{
				Key:         j.key,
				Aggregation: j.rollup.Agg.Name,
				SpecVersion: j.rollup.Agg.Version,
				Tenant:      j.meta.Tenant,
				Rows:        int64(len(j.rollup.Rows)),
				Bytes:       int64(len(data)),
				SHA256:      hex.EncodeToString(sum[:]),
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	return out, nil
}

type tenantPart struct {
	tenant string
	rollup exec.Rollup
}

// splitByTenant splits r's rows (checked by checkRows) by the dimension at index ti,
// keeping their order, and returns the parts sorted by tenant.
func splitByTenant(r exec.Rollup, ti int) []tenantPart {
	idx := map[string]int{}
	var parts []tenantPart
	for i := range r.Rows {
		row := &r.Rows[i]
		t := row.Dims[ti]
		k, ok := idx[t]
		if !ok {
			k = len(parts)
			idx[t] = k
			parts = append(parts, tenantPart{tenant: t, rollup: exec.Rollup{Agg: r.Agg}})
		}
		parts[k].rollup.Rows = append(parts[k].rollup.Rows, *row)
	}
	sort.Slice(parts, func(a, b int) bool { return parts[a].tenant < parts[b].tenant })
	return parts
}

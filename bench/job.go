package bench

import (
	"fmt"

	"github.com/tallyhq/tally/bench/tallyrun"
	"github.com/tallyhq/tally/specs"
)

// Job is one engine-neutral description of the work: every aggregation of a registry
// over [FromMS, ToMS) of a lake's files. It is what the DuckDB SQL is built from and
// what polars_job.py reads as JSON.
type Job struct {
	// Files are the lake's Parquet files (absolute paths), sorted.
	Files []string `json:"files"`
	// Dimensions are the source dimensions: with the metric, they identify a series.
	Dimensions []string `json:"dimensions"`
	// FromMS and ToMS bound the run, epoch milliseconds.
	FromMS int64 `json:"from_ms"`
	ToMS   int64 `json:"to_ms"`
	// Threads is the number of threads the engine may use.
	Threads int `json:"threads"`
	// OutDir receives one Parquet file per aggregation, named <aggregation>.parquet.
	OutDir string `json:"out_dir"`
	// Aggregations are computed in order.
	Aggregations []JobAggregation `json:"aggregations"`
}

// JobAggregation is one aggregation of a Job.
type JobAggregation struct {
	Name        string      `json:"name"`
	Metrics     []string    `json:"metrics"`
	Kind        string      `json:"kind"` // specs.Aggregation.Kind()
	WindowMS    int64       `json:"window_ms"`
	GroupBy     []string    `json:"group_by"`
	Filters     []JobFilter `json:"filters"`
	Functions   []string    `json:"functions"`
	StalenessMS int64       `json:"staleness_ms"`
}

// JobFilter keeps (or, negated, drops) points whose dimension value is one of Values.
type JobFilter struct {
	Dimension string   `json:"dimension"`
	Negate    bool     `json:"negate"`
	Values    []string `json:"values"`
}

// supportedFunctions are the functions every peer engine computes. Quantiles and
// sketches need tally's DDSketch and are left out of the benchmark registries.
var supportedFunctions = map[string]bool{
	specs.FnCount: true, specs.FnSum: true, specs.FnMin: true, specs.FnMax: true, specs.FnAvg: true,
	specs.FnFirst: true, specs.FnLast: true, specs.FnDelta: true, specs.FnRate: true, specs.FnBuckets: true,
}

// NewJob describes reg's work over [from, to) (epoch ms) on the lake under lakeDir.
func NewJob(reg *specs.Registry, lakeDir string, fromMS, toMS int64, threads int, outDir string) (*Job, error) {
	files, err := tallyrun.LakeFiles(lakeDir)
	if err != nil {
		return nil, err
	}
	if len(reg.Source.Columns) > 0 {
		return nil, fmt.Errorf("registry %s: renamed columns are not supported by the benchmark engines", reg.Path)
	}
	j := &Job{Files: files, Dimensions: reg.Source.Dimensions, FromMS: fromMS, ToMS: toMS, Threads: threads, OutDir: outDir}
	for _, a := range reg.Aggregations {
		ja := JobAggregation{
			Name: a.Name, Metrics: a.Metrics, Kind: a.Kind(), WindowMS: a.Window.Milliseconds(),
			GroupBy: a.GroupBy, Functions: a.Functions, StalenessMS: a.Staleness.Milliseconds(),
		}
		switch ja.Kind {
		case specs.TypeGauge, "sum/delta", "sum/cumulative/monotonic":
		case specs.TypeHistogram:
			if a.Temporality != specs.TemporalityDelta {
				return nil, fmt.Errorf("aggregation %s: only delta histograms are expressed for the peer engines", a.Name)
			}
		default:
			return nil, fmt.Errorf("aggregation %s: kind %s is not expressed for the peer engines", a.Name, ja.Kind)
		}
		for _, f := range a.Functions {
			if !supportedFunctions[f] {
				return nil, fmt.Errorf("aggregation %s: function %s is not expressed for the peer engines", a.Name, f)
			}
		}
		for _, f := range a.Filters {
			ja.Filters = append(ja.Filters, JobFilter{Dimension: f.Dimension, Negate: f.Op == specs.OpNe || f.Op == specs.OpNotIn, Values: f.Values})
		}
		j.Aggregations = append(j.Aggregations, ja)
	}
	return j, nil
}

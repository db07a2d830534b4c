// Package gen writes a synthetic raw telemetry lake: Kafka-cluster metrics
// (broker gauges, cumulative byte and request counters, delta error counters and
// explicit-bucket latency histograms) as Parquet segments in the raw segment
// contract (docs/raw-schema.md), partitioned by event time under any blob URL.
//
// The lake is a pure function of its Config: the same Config gives
// byte-identical files whatever the concurrency, and Points enumerates exactly
// the rows that Generate writes (values, quirk flags, object keys and row order)
// without any Parquet, so other packages' tests can build reference results.
//
// Real lakes are untidy, so quirks can be injected on demand: late arrivals,
// exact duplicate rows (possibly in another row group or file of the same
// partition), NaN and +Inf gauge values, out-of-order rows within a file and
// counter resets. Column names and timestamp units can be changed to look like
// other writers' lakes.
//
// Generation streams one row group at a time per file; memory depends on the
// number of series and the row-group size, never on the number of rows.
// docs/gen.md describes the data model and measured throughput.
package gen

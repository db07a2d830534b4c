// Package audit reconciles what a streaming job published with the batch truth.
//
// Run reads the stream's output (a Kafka topic, read_committed, or a Parquet archive
// in the rollup layout), computes the batch side from the raw lake (or reads an
// existing rollup), matches rows by key (aggregation, group_by dimensions, window
// start) and classifies every key: match, value mismatch, missing in stream, extra
// in stream, conflicting duplicate or identical duplicate. Differences are then
// explained where they can be: the stream's lateness rule is re-simulated (a point
// counts only when it arrived before window end + grace), and a late-dropping
// recomputation equal to the stream's value explains a mismatch; a stream key for
// which the lake holds no data points at a missing input segment. What stays
// unexplained pages someone (the command's exit code 1).
//
// Repair publishes corrected records for exactly the keys whose stream value is wrong
// or missing, optionally rewrites the affected rollup files, and records what it did
// under _tally/repairs/. Package audit/streamsim produces a stream with known faults
// to test all of this. docs/audit.md describes the classes, tolerances and report.
package audit

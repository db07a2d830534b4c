// Package writer stores what a backfill produces and records what it committed.
//
// Rollup results (exec.Rollup) become one Parquet file per aggregation, tenant and
// task (docs/rollup-format.md), under keys that are a pure function of the
// aggregation, its spec version and the task: a rerun overwrites, never duplicates.
// The files are byte-identical for the same rows, whatever the parallelism.
//
// A task is committed by writing its manifest, <out>/_tally/tasks/<task>.json, after
// every data object (docs/manifests.md). The manifest names the task's inputs, spec
// versions, output objects and Kafka offsets; Committed compares it with a planned
// task to decide whether a rerun may skip the task, Status reports every planned task,
// Verify checks that a manifest's objects are intact, and Obsolete and Clean find and
// remove objects that no manifest names. The same store keeps the Kafka writer's
// pending markers (Journal) and run summaries.
package writer

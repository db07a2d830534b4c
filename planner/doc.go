// Package planner turns a registry and a time range into a plan: the raw objects and
// row groups a backfill must read, cut into tasks that exec runs independently.
//
// Building a plan lists only the partitions of the source layout that overlap the range
// (hive hours, hive-daily days, druid interval folders; flat lakes are listed whole),
// reads every footer concurrently with ranged reads, prunes row groups by their time
// statistics and cuts tasks: one task per time slice — aligned to the registry's
// largest window and at least one partition long — and shard, where the shard is a
// tenant when every row group of the slice holds a single tenant, "all" otherwise.
// A window never spans two slices, so every point of a (group, window) is in exactly
// one task; a row group whose data spills over a slice boundary joins both tasks and
// counts as read amplification. Task IDs are a pure function of slice and shard.
//
// A plan is JSON (docs/plan-format.md) so that `tally plan --json` is a reviewable dry
// run and `tally backfill --plan` runs exactly what was reviewed; Plan.Shard assigns
// tasks deterministically to static shards (`--shard i/N`).
package planner

// Package reader reads raw telemetry segments — Parquet objects in any gocloud.dev/blob
// bucket — the way the rest of tally needs them: footers first, then only the column
// chunks a run projects, each fetched with one ranged read and counted.
//
// Real lakes differ, so the reader maps the registry's contract columns
// (docs/raw-schema.md) onto each file's own schema with File.Resolve: renamed columns,
// TIMESTAMP(MILLIS|MICROS|NANOS), Spark's INT96, plain INT64 times in a configured or
// guessed unit, narrower numeric types and plain, large or dictionary strings all come
// out of ReadRowGroup in one canonical Arrow shape whose fields carry the contract names:
//
//   - time, start_time, ingest_time: int64 nanoseconds since the Unix epoch, UTC
//   - metric, type, temporality and dimensions: dictionary<int32, utf8>
//   - value, sum, min, max: float64; count, zero_count: int64
//   - scale, positive_offset, negative_offset: int32; monotonic: bool
//   - bounds: list<float64>; bucket_counts, positive_counts, negative_counts: list<int64>
//
// Objects come from outside and may be truncated, forged or not Parquet at all. Every
// length read from an object is checked against the object's size before anything is
// allocated from it, and every failure is an error that names the object's key.
package reader

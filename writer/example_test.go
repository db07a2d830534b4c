package writer_test

import (
	"fmt"
	"time"

	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer"
)

func ExampleRollupKey() {
	agg := &specs.Aggregation{Name: "broker_cpu_5m", Version: "3f9c0a1b2c4d"}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	fmt.Println(writer.RollupKey(agg, "acme", "20261101T0000Z-20261101T0100Z-all", start))
	fmt.Println(writer.RollupKey(agg, "team/a", "20261101T0000Z-20261101T0100Z-tenant=team%2Fa", start))
	// Output:
	// tenant=acme/broker_cpu_5m/dt=2026-11-01/broker_cpu_5m-3f9c0a1b2c4d-20261101T0000Z-20261101T0100Z-all.parquet
	// tenant=team%2Fa/broker_cpu_5m/dt=2026-11-01/broker_cpu_5m-3f9c0a1b2c4d-20261101T0000Z-20261101T0100Z-tenant=team%2Fa.parquet
}

func ExampleCommitted() {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	in := writer.Input{Key: "raw/dt=2026-11-01/hour=00/part-0.parquet", Size: 7340032, ETag: `"9b2c"`, RowGroups: []int{0, 1}}
	m := &writer.Manifest{Format: writer.ManifestFormat, TaskID: "t1", From: from, To: from.Add(time.Hour), Shard: "all",
		Inputs: []writer.Input{in}, Specs: []writer.SpecRef{{Name: "broker_cpu_5m", Version: "3f9c0a1b2c4d"}}}
	task := writer.Task{ID: "t1", From: from, To: from.Add(time.Hour), Shard: "all", Inputs: []writer.Input{in}}

	fmt.Println(writer.Committed(m, task, map[string]string{"broker_cpu_5m": "3f9c0a1b2c4d"}))
	fmt.Println(writer.Committed(m, task, map[string]string{"broker_cpu_5m": "77aa00bb11cc"}))
	late := in
	late.Size, late.ETag = 7400000, `"a0f1"`
	task.Inputs = []writer.Input{late}
	fmt.Println(writer.Committed(m, task, map[string]string{"broker_cpu_5m": "3f9c0a1b2c4d"}))
	// Output:
	// true committed with the same inputs and spec versions
	// false aggregation broker_cpu_5m spec version changed 3f9c0a1b2c4d → 77aa00bb11cc
	// false input raw/dt=2026-11-01/hour=00/part-0.parquet size changed 7340032 → 7400000 bytes
}

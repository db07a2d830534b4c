package gen_test

import (
	"fmt"
	"time"

	"github.com/tallyhq/tally/gen"
)

// ExamplePoints builds reference data for a test without reading any Parquet:
// here, the bytes received by one topic in the first minute.
func ExamplePoints() {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cfg := gen.Config{
		From: from, To: from.Add(time.Minute),
		Tenants: 1, ClustersPerTenant: 1, BrokersPerCluster: 1, TopicsPerBroker: 1,
		Interval: 20 * time.Second, Metrics: []string{gen.MetricBytesIn},
	}
	err := gen.Points(cfg, func(p gen.Point) error {
		fmt.Printf("%s %s %s %s %.0f (since %s)\n", p.File, p.Time.Format("15:04:05.000"), p.Metric, p.Topic, p.Value, p.StartTime.Format(time.DateOnly))
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// dt=2026-11-01/hour=00/part-00000.parquet 00:00:12.884 kafka.server.bytes_in topic-00 48846566806286 (since 2026-01-01)
	// dt=2026-11-01/hour=00/part-00000.parquet 00:00:32.884 kafka.server.bytes_in topic-00 48846609626368 (since 2026-01-01)
	// dt=2026-11-01/hour=00/part-00000.parquet 00:00:52.884 kafka.server.bytes_in topic-00 48846648241497 (since 2026-01-01)
}

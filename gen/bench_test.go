package gen

import (
	"context"
	"io"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"
)

// BenchmarkGenerate writes one hour of the default fleet (360 series at 10s,
// 129,600 rows) with every quirk on, and reports rows/s. Run it with
// -benchtime and a larger fleet through `tally gen` for memory figures (docs/gen.md).
func BenchmarkGenerate(b *testing.B) {
	for _, tc := range []struct {
		name  string
		codec string
	}{{"zstd", CodecZstd}, {"snappy", CodecSnappy}} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := DefaultConfig("", testFrom, testFrom.Add(time.Hour))
			cfg.Codec = tc.codec
			cfg.LateFraction, cfg.DuplicateFraction, cfg.NaNFraction, cfg.OutOfOrderFraction = 0.01, 0.001, 0.001, 0.001
			var rows, bytes int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bucket := memblob.OpenBucket(nil)
				st, err := Generate(context.Background(), bucket, cfg)
				if err != nil {
					b.Fatal(err)
				}
				_ = bucket.Close()
				rows, bytes = rows+st.Rows, bytes+st.Bytes
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			b.SetBytes(bytes / int64(b.N))
		})
	}
}

// BenchmarkPoints measures point generation alone, without Parquet.
func BenchmarkPoints(b *testing.B) {
	cfg := DefaultConfig("", testFrom, testFrom.Add(time.Hour))
	var rows int64
	for i := 0; i < b.N; i++ {
		if err := Points(cfg, func(Point) error { rows++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

var _ io.Writer = (*countingWriter)(nil)
var _ = blob.WriterOptions{}

package hist

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
)

// cpuMeter reports, besides the wall-clock rate, the rate per second of process CPU time
// ("<unit>/cpu-s"), which stays meaningful when the machine is shared.
type cpuMeter struct{ start time.Duration }

func startCPU(b *testing.B) cpuMeter {
	b.Helper()
	return cpuMeter{start: processCPU()}
}

func (m cpuMeter) report(b *testing.B, ops int, unit string) {
	b.Helper()
	b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), unit+"/s")
	if cpu := processCPU() - m.start; cpu > 0 {
		b.ReportMetric(float64(ops)/cpu.Seconds(), unit+"/cpu-s")
	}
}

// latencies returns n log-normal values (a latency-like gauge), reused by benchmarks so
// that value generation is not measured.
func latencies(n int) []float64 {
	rng := rand.New(rand.NewPCG(21, 22))
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Exp(rng.NormFloat64()*1.5 + 3)
	}
	return v
}

func BenchmarkSketchAdd(b *testing.B) {
	vals := latencies(1 << 12)
	s, _ := NewSketch(DefaultAlpha)
	b.ReportAllocs()
	m := startCPU(b)
	i := 0
	for b.Loop() {
		_ = s.Add(vals[i&(len(vals)-1)])
		i++
	}
	m.report(b, i, "values")
}

// BenchmarkSketchAddLibrary measures sketches-go's own Add with the same mapping and
// store, for comparison with the direct store path of Sketch.Add.
func BenchmarkSketchAddLibrary(b *testing.B) {
	vals := latencies(1 << 12)
	s, _ := ddsketch.LogCollapsingLowestDenseDDSketch(DefaultAlpha, DefaultSketchBins)
	b.ReportAllocs()
	m := startCPU(b)
	i := 0
	for b.Loop() {
		_ = s.Add(vals[i&(len(vals)-1)])
		i++
	}
	m.report(b, i, "values")
}

func BenchmarkSketchMerge(b *testing.B) {
	part, _ := NewSketch(DefaultAlpha)
	for _, v := range latencies(1000) {
		_ = part.Add(v)
	}
	acc, _ := NewSketch(DefaultAlpha)
	b.ReportAllocs()
	m := startCPU(b)
	for b.Loop() {
		_ = acc.Merge(part)
	}
	m.report(b, b.N, "merges")
}

func BenchmarkSketchEncode(b *testing.B) {
	s, _ := NewSketch(DefaultAlpha)
	for _, v := range latencies(10000) {
		_ = s.Add(v)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = s.AppendEncode(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeSketch(b *testing.B) {
	s, _ := NewSketch(DefaultAlpha)
	for _, v := range latencies(10000) {
		_ = s.Add(v)
	}
	enc := s.Encode()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeSketch(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSketchQuantile(b *testing.B) {
	s, _ := NewSketch(DefaultAlpha)
	for _, v := range latencies(10000) {
		_ = s.Add(v)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Quantile(0.99)
	}
}

func BenchmarkExplicitMerge(b *testing.B) {
	bounds := []float64{0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000}
	counts := make([]uint64, len(bounds)+1)
	var count uint64
	for i := range counts {
		counts[i] = uint64(i * 3)
		count += counts[i]
	}
	var h Explicit
	b.ReportAllocs()
	m := startCPU(b)
	for b.Loop() {
		if err := h.Merge(bounds, counts, count, 1234.5, 0.5, 9000, true); err != nil {
			b.Fatal(err)
		}
		if h.Count > 1<<60 {
			h.Reset()
		}
	}
	m.report(b, b.N, "points")
}

func BenchmarkExplicitQuantile(b *testing.B) {
	h := docExplicit()
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Quantile(0.99)
	}
}

// expPoints returns points of 40 latency-like observations each, mapped at scale 20 and
// downscaled to at most 160 buckets as an SDK does.
func expPoints(n int) []Exponential {
	vals := latencies(40 * n)
	pts := make([]Exponential, n)
	for i := range pts {
		raw := expFromObservations(MaxScale, 0, vals[40*i:40*i+40])
		if err := pts[i].Merge(&raw); err != nil {
			panic(err)
		}
	}
	return pts
}

func BenchmarkExponentialMerge(b *testing.B) {
	pts := expPoints(256)
	h := Exponential{}
	for i := range pts { // reach the steady-state scale first
		_ = h.Merge(&pts[i])
	}
	b.ReportAllocs()
	m := startCPU(b)
	i := 0
	for b.Loop() {
		if err := h.Merge(&pts[i&255]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	m.report(b, i, "points")
}

// BenchmarkExponentialMergeFresh includes the downscales of a fresh accumulator.
func BenchmarkExponentialMergeFresh(b *testing.B) {
	pts := expPoints(16)
	var h Exponential
	b.ReportAllocs()
	m := startCPU(b)
	for b.Loop() {
		h.Reset()
		for i := range pts {
			if err := h.Merge(&pts[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	m.report(b, 16*b.N, "points")
}

func BenchmarkExponentialQuantile(b *testing.B) {
	pts := expPoints(64)
	var h Exponential
	for i := range pts {
		_ = h.Merge(&pts[i])
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Quantile(0.99)
	}
}

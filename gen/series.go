package gen

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
)

// Metric names the generator writes.
const (
	MetricCPU           = "kafka.broker.cpu"
	MetricMemory        = "kafka.broker.memory"
	MetricDisk          = "kafka.broker.disk"
	MetricBytesIn       = "kafka.server.bytes_in"
	MetricBytesOut      = "kafka.server.bytes_out"
	MetricRequests      = "kafka.server.requests"
	MetricRequestErrors = "kafka.server.request_errors"
	MetricLatency       = "kafka.request.latency"
)

// Metric types and temporalities as written in the type and temporality columns.
const (
	TypeGauge             = "gauge"
	TypeSum               = "sum"
	TypeHistogram         = "histogram"
	TemporalityCumulative = "cumulative"
	TemporalityDelta      = "delta"
)

// requestTypes are the request_type values of the per-request-type metrics.
var requestTypes = []string{"Produce", "Fetch", "Metadata"}

// RequestTypes returns the request_type values of the per-request-type metrics.
func RequestTypes() []string { return slices.Clone(requestTypes) }

// latencyBounds are the explicit bucket bounds of MetricLatency, in milliseconds.
var latencyBounds = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000}

// numBuckets is len(latencyBounds)+1: OpenTelemetry explicit buckets, bucket i
// holds (bounds[i-1], bounds[i]], the last one (bounds[len-1], +Inf).
const numBuckets = 11

// LatencyBounds returns the bucket bounds (ms) of MetricLatency; the caller may modify the slice.
func LatencyBounds() []float64 { return slices.Clone(latencyBounds) }

// model is how a metric's values are made.
type model uint8

const (
	modelCPU model = iota
	modelMemory
	modelDisk
	modelCounter
	modelErrors
	modelLatency
)

// metricDef describes one generated metric.
type metricDef struct {
	name, typ, temporality string
	monotonic              bool
	perTopic               bool // one series per topic of the broker
	perRequestType         bool // one series per requestTypes entry
	model                  model
	// rateLo, rateHi bound the per-second rate of counters (log-uniform per series).
	rateLo, rateHi float64
}

var metricDefs = []metricDef{
	{name: MetricCPU, typ: TypeGauge, model: modelCPU},
	{name: MetricMemory, typ: TypeGauge, model: modelMemory},
	{name: MetricDisk, typ: TypeGauge, model: modelDisk},
	{name: MetricBytesIn, typ: TypeSum, temporality: TemporalityCumulative, monotonic: true, perTopic: true, model: modelCounter, rateLo: 20e3, rateHi: 2e6},
	{name: MetricBytesOut, typ: TypeSum, temporality: TemporalityCumulative, monotonic: true, perTopic: true, model: modelCounter, rateLo: 40e3, rateHi: 4e6},
	{name: MetricRequests, typ: TypeSum, temporality: TemporalityCumulative, monotonic: true, perRequestType: true, model: modelCounter, rateLo: 5, rateHi: 2000},
	{name: MetricRequestErrors, typ: TypeSum, temporality: TemporalityDelta, monotonic: true, perRequestType: true, model: modelErrors},
	{name: MetricLatency, typ: TypeHistogram, temporality: TemporalityDelta, perRequestType: true, model: modelLatency},
}

// MetricNames returns every metric the generator knows, in generation order.
func MetricNames() []string {
	out := make([]string, len(metricDefs))
	for i, d := range metricDefs {
		out[i] = d.name
	}
	return out
}

func metricIndex(name string) int {
	for i, d := range metricDefs {
		if d.name == name {
			return i
		}
	}
	return -1
}

// Names of the fleet's members. Broker and topic names repeat across clusters and
// brokers (a topic spans every broker of its cluster); the full dimension tuple is unique.
func tenantName(t int) string     { return fmt.Sprintf("tenant-%03d", t) }
func clusterName(t, c int) string { return fmt.Sprintf("cluster-%03d-%02d", t, c) }
func brokerName(b int) string     { return fmt.Sprintf("broker-%d", b) }
func topicName(p int) string      { return fmt.Sprintf("topic-%02d", p) }

// seriesDesc is one series: a metric and its five dimensions, with everything about
// it that does not depend on time precomputed.
type seriesDesc struct {
	idx                                             int32 // enumeration order: tenant, cluster, broker, metric, topic/request type
	metric                                          int8  // index into metricDefs
	rt                                              int8  // index into requestTypes, -1 when not per request type
	tenant                                          int32
	tenantName, cluster, broker, topic, requestType string
	key                                             string               // metric|tenant|cluster|broker|topic|request_type
	sid                                             [numStringCols]int32 // ids of the string column values in fleet.strs; -1 is null
	hash                                            uint64               // of key and seed: every draw starts here
	phase                                           int64                // ns after each interval boundary at which the series reports
	// Model parameters drawn once per series.
	a, b, c float64
	rate    int64 // counter increment per interval (mean)
	jitter  int64 // counter jitter bound (< rate, so values never decrease)
	hist    *[numBuckets]float64
}

// fleet is the immutable series table of a configuration.
type fleet struct {
	series []seriesDesc
	// strs holds the distinct values of each string column (stringCols order).
	strs [numStringCols][]string
	// order lists series indexes sorted by (phase, idx): the row order within an interval.
	order []int32
	// byFile[k] is order restricted to the tenants of file k.
	byFile [][]int32
}

// newFleet enumerates the series of a validated configuration.
func newFleet(c *Config) *fleet {
	n := c.seriesCount()
	f := &fleet{series: make([]seriesDesc, 0, n)}
	res := int64(unitResolution[c.TimeUnit])
	slots := uint64(int64(c.Interval) / res)
	seedHash := mix64(uint64(c.Seed) ^ 0x6a09e667f3bcc908)
	metrics := c.metricSet()
	ids := [numStringCols]map[string]int32{}
	intern := func(col int, v string) int32 {
		if v == "" && stringCols[col] == iTemporality {
			return -1
		}
		if ids[col] == nil {
			ids[col] = map[string]int32{}
		}
		id, ok := ids[col][v]
		if !ok {
			id = int32(len(f.strs[col]))
			ids[col][v] = id
			f.strs[col] = append(f.strs[col], v)
		}
		return id
	}
	for t := 0; t < c.Tenants; t++ {
		tn := tenantName(t)
		for cl := 0; cl < c.ClustersPerTenant; cl++ {
			cn := clusterName(t, cl)
			for b := 0; b < c.BrokersPerCluster; b++ {
				bn := brokerName(b)
				for _, m := range metrics {
					d := &metricDefs[m]
					add := func(topic string, rt int) {
						s := seriesDesc{
							idx: int32(len(f.series)), metric: int8(m), rt: int8(rt), tenant: int32(t),
							tenantName: tn, cluster: cn, broker: bn, topic: topic,
						}
						if rt >= 0 {
							s.requestType = requestTypes[rt]
						}
						for j, v := range [numStringCols]string{d.name, d.typ, d.temporality, tn, cn, bn} {
							s.sid[j] = intern(j, v)
						}
						s.key = d.name + "|" + tn + "|" + cn + "|" + bn + "|" + topic + "|" + s.requestType
						h := fnv.New64a()
						h.Write([]byte(s.key))
						s.hash = mix64(h.Sum64() ^ seedHash)
						s.phase = int64(s.hash%slots) * res
						s.draw(d, c)
						f.series = append(f.series, s)
					}
					switch {
					case d.perTopic:
						for p := 0; p < c.TopicsPerBroker; p++ {
							add(topicName(p), -1)
						}
					case d.perRequestType:
						for rt := range requestTypes {
							add("", rt)
						}
					default:
						add("", -1)
					}
				}
			}
		}
	}
	f.order = make([]int32, len(f.series))
	for i := range f.order {
		f.order[i] = int32(i)
	}
	slices.SortFunc(f.order, func(x, y int32) int {
		return cmp.Or(cmp.Compare(f.series[x].phase, f.series[y].phase), cmp.Compare(x, y))
	})
	f.byFile = make([][]int32, c.FilesPerPartition)
	for _, i := range f.order {
		k := int(f.series[i].tenant) % c.FilesPerPartition
		f.byFile[k] = append(f.byFile[k], i)
	}
	return f
}

// draw picks the per-series model parameters.
func (s *seriesDesc) draw(d *metricDef, c *Config) {
	u := func(purpose uint64) float64 { return unit(mix64(s.hash ^ purpose)) }
	switch d.model {
	case modelCPU:
		s.a = 15 + 45*u(1)       // mean utilisation, percent
		s.b = 5 + 15*u(2)        // daily swing, percent
		s.c = 2 * math.Pi * u(3) // daily phase
	case modelMemory:
		s.a = 0.45 + 0.3*u(1)  // mean fraction of memoryBytes in use
		s.b = 0.03 + 0.07*u(2) // daily swing
		s.c = 2 * math.Pi * u(3)
	case modelDisk:
		s.a = 0.2 + 0.5*u(1)   // fraction of diskBytes used after daily retention
		s.b = 0.02 + 0.08*u(2) // growth over a day before retention trims it
	case modelCounter:
		perSecond := math.Exp(math.Log(d.rateLo) + u(1)*(math.Log(d.rateHi)-math.Log(d.rateLo)))
		s.rate = max(1, int64(math.Round(perSecond*c.Interval.Seconds())))
		s.jitter = s.rate * 4 / 5
	case modelErrors:
		s.a = 0.05 + 0.2*u(1) // probability that an interval has errors
	case modelLatency:
		s.hist = latencyWeights(requestTypes[s.rt], u(1), u(2))
		s.a = math.Max(1, math.Round((20+480*u(3))*c.Interval.Seconds()/10)) // samples per interval
	}
}

// Constants of the gauge models.
const (
	memoryBytes = 64 << 30 // broker memory
	diskBytes   = 4 << 40  // broker disk
)

// latencyWeights is the share of requests per latency bucket: a log-normal
// distribution around a median that depends on the request type.
func latencyWeights(requestType string, u1, u2 float64) *[numBuckets]float64 {
	median := map[string]float64{"Produce": 3, "Fetch": 60, "Metadata": 0.8}[requestType]
	median *= math.Exp(u1 - 0.5)
	sigma := 0.7 + 0.5*u2
	cdf := func(x float64) float64 {
		return 0.5 * math.Erfc(-(math.Log(x)-math.Log(median))/(sigma*math.Sqrt2))
	}
	var w [numBuckets]float64
	prev := 0.0
	for i, b := range latencyBounds {
		p := cdf(b)
		w[i] = p - prev
		prev = p
	}
	w[numBuckets-1] = 1 - prev
	return &w
}

// mix64 is the splitmix64 finalizer: a fast, well-distributed 64-bit hash step.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// Purposes of per-point draws, so that independent decisions use independent bits.
const (
	drawValue uint64 = iota + 1
	drawValue2
	drawIngest
	drawLate
	drawDup
	drawDupFile
	drawNaN
	drawInf
	drawDisplace
	drawDisplaceBy
	drawReset
	drawResetPoint
	drawMin
	drawMax
	drawBucket // + bucket index; keep last
)

// draw64 returns the hash of (series, interval index k, purpose).
func (s *seriesDesc) draw64(k int64, purpose uint64) uint64 {
	return mix64(s.hash ^ mix64(uint64(k)*0x9e3779b97f4a7c15+purpose))
}

// drawUnit returns a uniform [0, 1) draw for (series, k, purpose).
func (s *seriesDesc) drawUnit(k int64, purpose uint64) float64 {
	return unit(s.draw64(k, purpose))
}

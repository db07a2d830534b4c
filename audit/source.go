package audit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer"
	"github.com/tallyhq/tally/writer/kafka"
)

// KafkaScheme starts a stream URL that names a Kafka topic:
// kafka://host:port[,host:port]/topic.
const KafkaScheme = "kafka"

// StreamURL is a parsed --stream value: a Kafka topic, or a blob URL holding rollup
// Parquet in the rollup layout (the stream's archive).
type StreamURL struct {
	// Brokers and Topic are set for a Kafka stream.
	Brokers []string
	Topic   string
	// Archive is the blob URL of a Parquet archive ("" for Kafka).
	Archive string
}

// IsKafka reports whether the stream is a Kafka topic.
func (s StreamURL) IsKafka() bool { return s.Topic != "" }

// String renders the URL back.
func (s StreamURL) String() string {
	if s.IsKafka() {
		return KafkaScheme + "://" + strings.Join(s.Brokers, ",") + "/" + s.Topic
	}
	return s.Archive
}

// ParseStreamURL parses kafka://host:port[,host:port]/topic or a blob URL (file://,
// mem://, s3://, gs://, azblob://).
func ParseStreamURL(raw string) (StreamURL, error) {
	if raw == "" {
		return StreamURL{}, errors.New("stream URL is empty: give kafka://host:port/topic or the URL of the stream's Parquet archive")
	}
	rest, ok := strings.CutPrefix(raw, KafkaScheme+"://")
	if !ok {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" {
			return StreamURL{}, fmt.Errorf("stream URL %q: not a URL; give kafka://host:port/topic or a blob URL such as s3://bucket/prefix", raw)
		}
		return StreamURL{Archive: raw}, nil
	}
	hosts, topic, ok := strings.Cut(rest, "/")
	if !ok || topic == "" || strings.Contains(topic, "/") {
		return StreamURL{}, fmt.Errorf("stream URL %q: want kafka://host:port[,host:port]/topic", raw)
	}
	var brokers []string
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if i := strings.LastIndexByte(h, ':'); i <= 0 || i == len(h)-1 {
			return StreamURL{}, fmt.Errorf("stream URL %q: broker %q is not host:port", raw, h)
		}
		brokers = append(brokers, h)
	}
	if len(brokers) == 0 {
		return StreamURL{}, fmt.Errorf("stream URL %q names no broker", raw)
	}
	return StreamURL{Brokers: brokers, Topic: topic}, nil
}

// Observed is one row as the stream published it.
type Observed struct {
	Agg *specs.Aggregation
	Row exec.Row
	// Origin is the tally.origin header: "" for the streaming job's own records,
	// backfill or repair for records tally published (they supersede earlier ones).
	Origin string
	// Where locates the record: topic/partition@offset, or the archive object key.
	Where string
	// SpecVersion is what the record says ("" when it does not say).
	SpecVersion string
}

// streamRead is what a stream source returned.
type streamRead struct {
	rows  []Observed
	notes []string
	// undecodable lists records that do not follow the record contract.
	undecodable []string
}

// maxUndecodable bounds the undecodable records listed one by one.
const maxUndecodable = 20

// inRange reports whether a row's window lies inside [from, to).
func inRange(r *exec.Row, from, to time.Time) bool {
	return r.WindowStart >= from.UnixMilli() && r.WindowEnd <= to.UnixMilli()
}

// readKafkaStream reads the topic's records whose timestamp (the window end) lies in
// (from, to], read_committed, and decodes those of the audited aggregations.
func readKafkaStream(ctx context.Context, s StreamURL, opts []kgo.Opt, aggs map[string]*specs.Aggregation, from, to time.Time) (*streamRead, error) {
	recs, err := consumeRange(ctx, s.Brokers, s.Topic, from, to, opts)
	if err != nil {
		return nil, err
	}
	out := &streamRead{}
	skipped := map[string]int{}
	for _, rec := range recs {
		d, err := kafka.Decode(rec)
		if err != nil {
			out.undecodable = append(out.undecodable, err.Error())
			continue
		}
		agg, ok := aggs[d.Aggregation]
		if !ok {
			skipped[d.Aggregation]++
			continue
		}
		row, err := decodedRow(agg, &d)
		if err != nil {
			out.undecodable = append(out.undecodable, fmt.Sprintf("record %s/%d@%d: %v", rec.Topic, rec.Partition, rec.Offset, err))
			continue
		}
		if !inRange(&row, from, to) {
			continue
		}
		out.rows = append(out.rows, Observed{Agg: agg, Row: row, Origin: d.Origin, SpecVersion: d.SpecVersion,
			Where: fmt.Sprintf("%s/%d@%d", rec.Topic, rec.Partition, rec.Offset)})
	}
	for _, name := range sortedKeys(skipped) {
		out.notes = append(out.notes, fmt.Sprintf("%d records of aggregation %q on %s are not audited (not in the registry, or routed elsewhere)", skipped[name], name, s.Topic))
	}
	return out, nil
}

// decodedRow turns a decoded record into a row of agg.
func decodedRow(agg *specs.Aggregation, d *kafka.Decoded) (exec.Row, error) {
	r := exec.Row{WindowStart: d.WindowStart, WindowEnd: d.WindowEnd, Samples: d.Samples, Count: d.Count,
		Hist: d.Hist, Exp: d.Exp, Sketch: d.Sketch}
	if agg.Window.Milliseconds() != d.WindowEnd-d.WindowStart {
		return r, fmt.Errorf("aggregation %s: window [%d, %d) is not one %s window", agg.Name, d.WindowStart, d.WindowEnd, specs.FormatWindow(agg.Window))
	}
	r.Dims = make([]string, len(agg.GroupBy))
	for i, g := range agg.GroupBy {
		v, ok := d.Dim(g)
		if !ok {
			return r, fmt.Errorf("aggregation %s: record has no dimension %q", agg.Name, g)
		}
		r.Dims[i] = v
	}
	if agg.Has(specs.FnCount) && !d.HasCount {
		if v, ok := d.Values[specs.FnCount]; ok {
			r.Count = int64(v)
		} else {
			return r, fmt.Errorf("aggregation %s: record has no count", agg.Name)
		}
	}
	vf := agg.ValueFunctions()
	r.Values = make([]float64, len(vf))
	for i, fn := range vf {
		v, ok := d.Values[fn]
		if !ok {
			return r, fmt.Errorf("aggregation %s: record has no value for function %s", agg.Name, fn)
		}
		r.Values[i] = v
	}
	return r, nil
}

// consumeRange reads the records of topic with a timestamp in (from, to], from the
// first offset whose timestamp is after from to the last stable offset, as a
// read_committed consumer sees them, ordered by partition and offset.
func consumeRange(ctx context.Context, brokers []string, topic string, from, to time.Time, opts []kgo.Opt) ([]*kgo.Record, error) {
	base := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)
	admin, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", topic, err)
	}
	adm := kadm.NewClient(admin)
	starts, err := adm.ListOffsetsAfterMilli(ctx, from.UnixMilli()+1, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		admin.Close()
		return nil, fmt.Errorf("read stream %s: offsets after %s: %w", topic, from.Format(time.RFC3339), err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	admin.Close()
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("read stream %s: last stable offsets: %w", topic, err)
	}
	if _, ok := ends[topic]; !ok {
		return nil, fmt.Errorf("read stream %s: the topic does not exist on %v", topic, brokers)
	}
	assign := map[int32]kgo.Offset{}
	last := map[int32]int64{}
	for p, e := range ends[topic] {
		s, ok := starts.Lookup(topic, p)
		if !ok || s.Offset < 0 {
			continue
		}
		if e.Offset > s.Offset {
			assign[p] = kgo.NewOffset().At(s.Offset)
			last[p] = e.Offset - 1
		}
	}
	if len(assign) == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // a partition may end in a transaction marker
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", topic, err)
	}
	defer cl.Close()
	var out []*kgo.Record
	done := map[int32]bool{}
	lo, hi := from.UnixMilli(), to.UnixMilli()
	for len(done) < len(assign) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read stream %s: %d of %d partitions read: %w", topic, len(done), len(assign), err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("read stream %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= last[r.Partition] {
				done[r.Partition] = true
			}
			if r.Offset > last[r.Partition] || r.Attrs.IsControl() {
				return
			}
			if ts := r.Timestamp.UnixMilli(); ts > lo && ts <= hi {
				out = append(out, r)
			}
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, nil
}

// readArchive reads the rollup Parquet files of aggs under url whose windows lie in
// [from, to), in key order.
func readArchive(ctx context.Context, rawURL string, aggs []*specs.Aggregation, from, to time.Time) (*streamRead, error) {
	store, err := writer.OpenStore(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	out := &streamRead{}
	versions := map[string]bool{}
	err = store.ReadRollups(ctx, aggs, from, to, func(info writer.RollupInfo, ro exec.Rollup) error {
		if info.SpecVersion != ro.Agg.Version && !versions[info.Key] {
			versions[info.Key] = true
			out.notes = append(out.notes, fmt.Sprintf("%s was written for spec version %s of %s; the registry has %s", info.Key, info.SpecVersion, ro.Agg.Name, ro.Agg.Version))
		}
		for i := range ro.Rows {
			r := &ro.Rows[i]
			if !inRange(r, from, to) {
				continue
			}
			out.rows = append(out.rows, Observed{Agg: ro.Agg, Row: *r, SpecVersion: info.SpecVersion, Where: info.Key})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rollups under %s: %w", rawURL, err)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tallyhq/tally/audit"
	"github.com/tallyhq/tally/audit/streamsim"
	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/exec/hist"
	"github.com/tallyhq/tally/internal/kafkatest"
	"github.com/tallyhq/tally/writer/kafka"
)

// TestKafkaInjectedFaults publishes a simulated stream with one kind of fault at a
// time and checks that the audit finds exactly the injected keys, with the right
// class and explanation: no false positives, no misses.
func TestKafkaInjectedFaults(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	cases := []struct {
		name string
		sim  func(*streamsim.Config)
		// must lists fault kinds the case must actually have injected.
		must []streamsim.FaultKind
	}{
		{"late drops", func(*streamsim.Config) {}, []streamsim.FaultKind{streamsim.LateValue}},
		{"duplicate publish same value", func(c *streamsim.Config) { c.Duplicates = &streamsim.DuplicateFault{Every: 9} },
			[]streamsim.FaultKind{streamsim.DuplicateIdentical}},
		{"duplicate publish other value", func(c *streamsim.Config) {
			c.Duplicates = &streamsim.DuplicateFault{Every: 13, Different: true}
		}, []streamsim.FaultKind{streamsim.DuplicateConflicting}},
		{"missing partition", func(c *streamsim.Config) {
			c.MissingPartition = &streamsim.PartitionFault{Partition: 1, From: day.Add(30 * time.Minute), To: day.Add(65 * time.Minute)}
		}, []streamsim.FaultKind{streamsim.MissingPartition}},
		{"value bug", func(c *streamsim.Config) {
			c.ValueBug = &streamsim.ValueBugFault{Aggregation: "broker_cpu_5m", Function: "avg", Factor: 1.1}
		}, []streamsim.FaultKind{streamsim.ValueBug}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			topic := topicFor(t)
			reg := registry(t, topic)
			sim := streamsim.Config{Registry: reg, From: day, To: day.Add(lakeHours * time.Hour), Grace: grace, Brokers: brokers}
			c.sim(&sim)
			inj, err := streamsim.Publish(ctx, sim)
			if err != nil {
				t.Fatal(err)
			}
			kinds := countKinds(inj.Faults)
			for _, k := range c.must {
				if kinds[k] == 0 {
					t.Fatalf("the simulation injected no %s fault (%v): the case tests nothing", k, kinds)
				}
			}
			t.Logf("injected %v over %d records (%d late points)", kinds, inj.Records, inj.LatePoints)
			rep, err := audit.Run(ctx, auditConfig(reg, streamURL(brokers, topic)))
			if err != nil {
				t.Fatal(err)
			}
			sameVerdicts(t, expected(inj.Faults), found(t, rep))
			if !rep.LateSimulated {
				t.Errorf("lateness was not simulated: %v", rep.Notes)
			}
			if rep.StreamRecords != inj.Records {
				t.Errorf("audit read %d records, the simulation produced %d", rep.StreamRecords, inj.Records)
			}
		})
	}
}

// TestKafkaIdenticalStreamMatches audits a stream that saw every point in time (a
// grace longer than any lateness) against the batch: everything matches.
func TestKafkaIdenticalStreamMatches(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	ctx := context.Background()
	topic := topicFor(t)
	reg := registry(t, topic)
	inj, err := streamsim.Publish(ctx, streamsim.Config{Registry: reg, From: day, To: day.Add(lakeHours * time.Hour), Grace: 24 * time.Hour, Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	if len(inj.Faults) != 0 {
		t.Fatalf("a 24h grace injected faults: %v", countKinds(inj.Faults))
	}
	cfg := auditConfig(reg, streamURL(brokers, topic))
	cfg.Grace = 24 * time.Hour
	rep, err := audit.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keys == 0 || rep.Counts[audit.Match] != rep.Keys || len(rep.Findings) != 0 || !rep.OK() {
		t.Fatalf("want 100%% match: keys %d, counts %v, %d findings", rep.Keys, rep.Counts, len(rep.Findings))
	}
	if rep.StreamRecords != rep.Keys {
		t.Errorf("%d records for %d keys", rep.StreamRecords, rep.Keys)
	}
}

// TestKafkaExtraAndUndecodableRecords adds to a clean stream a record for a tenant the
// lake has no data for (explained: missing input), a record for a cluster that does
// not exist in a tenant that has data (unexplained), and a record that does not decode
// (unexplained).
func TestKafkaExtraAndUndecodableRecords(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	ctx := context.Background()
	topic := topicFor(t)
	reg := registry(t, topic)
	if _, err := streamsim.Publish(ctx, streamsim.Config{Registry: reg, From: day, To: day.Add(lakeHours * time.Hour), Grace: 24 * time.Hour, Brokers: brokers}); err != nil {
		t.Fatal(err)
	}
	agg := reg.Aggregation("broker_cpu_5m")
	start := day.Add(10 * time.Minute)
	row := func(tenant, cluster string) exec.Row {
		sk, err := hist.NewSketch(agg.SketchAlpha)
		if err != nil {
			t.Fatal(err)
		}
		_ = sk.Add(50)
		return exec.Row{WindowStart: start.UnixMilli(), WindowEnd: start.Add(agg.Window).UnixMilli(), Dims: []string{tenant, cluster, "broker-x"},
			Samples: 1, Count: 1, Values: []float64{50, 50, 50, 50, 50}, Sketch: sk.Encode()}
	}
	enc := kafka.NewEncoder(reg.Source.Tenant)
	var recs []*kgo.Record
	for _, r := range []exec.Row{row("tenant-999", "cluster-999-00"), row("tenant-000", "cluster-ghost")} {
		rec, err := enc.Record(agg, &r, kafka.TaskRef{})
		if err != nil {
			t.Fatal(err)
		}
		rec.Headers = rec.Headers[:1] // the stream's records carry no tally.* headers
		recs = append(recs, rec)
	}
	recs = append(recs, &kgo.Record{Topic: topic, Key: []byte("garbage"), Value: []byte("not a record"), Timestamp: start.Add(agg.Window)})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cfg := auditConfig(reg, streamURL(brokers, topic))
	cfg.Grace = 24 * time.Hour
	rep, err := audit.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	extraKey := func(tenant, cluster string) audit.Key {
		r := row(tenant, cluster)
		return audit.KeyOf(agg, &r)
	}
	sameVerdicts(t, map[audit.Key]verdict{
		extraKey("tenant-999", "cluster-999-00"): {audit.ExtraInStream, audit.ExplainedMissingInput},
		extraKey("tenant-000", "cluster-ghost"):  {audit.ExtraInStream, ""},
	}, found(t, rep))
	if rep.UndecodableCount != 1 || rep.Unexplained != 2 || rep.OK() {
		t.Errorf("undecodable %d, unexplained %d: want 1 undecodable record and 2 unexplained (it and the ghost cluster)", rep.UndecodableCount, rep.Unexplained)
	}
}

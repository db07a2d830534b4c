package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/tallyhq/tally/audit"
	"github.com/tallyhq/tally/audit/streamsim"
	"github.com/tallyhq/tally/internal/kafkatest"
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

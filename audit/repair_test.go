package audit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tallyhq/tally/audit"
	"github.com/tallyhq/tally/audit/streamsim"
	"github.com/tallyhq/tally/internal/kafkatest"
	"github.com/tallyhq/tally/writer/kafka"
)

func mustMatch(t *testing.T, rep *audit.Report, label string) {
	t.Helper()
	if rep.Keys == 0 || rep.Counts[audit.Match] != rep.Keys || len(rep.Findings) != 0 || !rep.OK() {
		t.Fatalf("%s: want 100%% match: keys %d, counts %v, first findings %v", label, rep.Keys, rep.Counts, rep.Findings[:min(3, len(rep.Findings))])
	}
}

// TestKafkaRepair publishes a stream with late drops, conflicting duplicates, a lost
// partition and a value bug; repair publishes corrections for exactly the wrong keys,
// the re-audit matches everywhere, and a second repair finds nothing to do.
func TestKafkaRepair(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	ctx := context.Background()
	topic := topicFor(t)
	reg := registry(t, topic)
	inj, err := streamsim.Publish(ctx, streamsim.Config{Registry: reg, From: day, To: day.Add(lakeHours * time.Hour), Grace: grace, Brokers: brokers,
		Duplicates:       &streamsim.DuplicateFault{Every: 17, Different: true},
		MissingPartition: &streamsim.PartitionFault{Partition: 0, From: day.Add(20 * time.Minute), To: day.Add(40 * time.Minute)},
		ValueBug:         &streamsim.ValueBugFault{Aggregation: "cluster_bytes_in_1m", Function: "rate", Factor: 1.1},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := expected(inj.Faults)
	kcfg := kafka.DefaultConfig()
	kcfg.Brokers = brokers
	sink, err := kafka.NewSink(kcfg, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	out := "file://" + filepath.ToSlash(t.TempDir())
	rcfg := audit.RepairConfig{Audit: auditConfig(reg, streamURL(brokers, topic)), Out: out, Publisher: sink, ID: "first"}
	m, before, err := audit.Repair(ctx, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	sameVerdicts(t, want, found(t, before))
	if m == nil || len(m.Keys) != len(want) {
		t.Fatalf("repaired %v keys, want every one of the %d injected", m, len(want))
	}
	if m.Kafka == nil || m.Kafka.Records != len(want) {
		t.Fatalf("kafka offsets %+v, want %d records", m.Kafka, len(want))
	}
	back, err := audit.ReadRepairManifest(ctx, out, "first")
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != "first" || len(back.Keys) != len(m.Keys) {
		t.Errorf("manifest read back: %+v", back)
	}

	after, err := audit.Run(ctx, auditConfig(reg, streamURL(brokers, topic)))
	if err != nil {
		t.Fatal(err)
	}
	mustMatch(t, after, "after repair")
	if after.Superseded == 0 {
		t.Error("no stream record was superseded by a correction")
	}

	rcfg.ID = "second"
	m2, again, err := audit.Repair(ctx, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	if m2 != nil {
		t.Fatalf("second repair repaired %d keys; want none", len(m2.Keys))
	}
	mustMatch(t, again, "second repair's audit")
	if _, err := audit.ReadRepairManifest(ctx, out, "second"); err == nil {
		t.Error("a repair that changed nothing wrote a manifest")
	}
}

// TestRepairRewritesRollups repairs a Parquet archive by rewriting the affected
// tasks' rollups in place; the re-audit matches and a second repair is a no-op.
func TestRepairRewritesRollups(t *testing.T) {
	ctx := context.Background()
	url := "file://" + filepath.ToSlash(t.TempDir())
	archiveStream(t, url)
	reg := registry(t, "unused")
	rcfg := audit.RepairConfig{Audit: auditConfig(reg, url), Out: url, RewriteRollups: true, ID: "rewrite-1"}
	m, before, err := audit.Repair(ctx, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	if before.OK() || m == nil || len(m.RewrittenTasks) == 0 {
		t.Fatalf("want a failing audit and rewritten tasks: ok=%v manifest=%+v", before.OK(), m)
	}
	after, err := audit.Run(ctx, auditConfig(reg, url))
	if err != nil {
		t.Fatal(err)
	}
	mustMatch(t, after, "after rewrite")
	rcfg.ID = "rewrite-2"
	if m2, _, err := audit.Repair(ctx, rcfg); err != nil || m2 != nil {
		t.Fatalf("second repair: manifest %+v, err %v; want nothing to repair", m2, err)
	}
}

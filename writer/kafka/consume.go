package kafka

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Consume reads topic from the start of every partition to its end as of the call (the
// last stable offset when readCommitted, else the high watermark) and returns the data
// records ordered by partition, then offset. With readCommitted, records of aborted
// transactions are left out, as any read_committed consumer would. opts adds
// connection options (Config.ClientOpts for TLS and SASL).
func Consume(ctx context.Context, brokers []string, topic string, readCommitted bool, opts ...kgo.Opt) ([]*kgo.Record, error) {
	base := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)
	admin, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", topic, err)
	}
	adm := kadm.NewClient(admin)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		admin.Close()
		return nil, fmt.Errorf("consume %s: list start offsets: %w", topic, err)
	}
	var ends kadm.ListedOffsets
	if readCommitted {
		ends, err = adm.ListCommittedOffsets(ctx, topic)
	} else {
		ends, err = adm.ListEndOffsets(ctx, topic)
	}
	admin.Close()
	if err != nil {
		return nil, fmt.Errorf("consume %s: list end offsets: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("consume %s: %w", topic, err)
	}
	assign := map[int32]kgo.Offset{}
	last := map[int32]int64{}
	for p, e := range ends[topic] {
		s, ok := starts.Lookup(topic, p)
		if !ok || s.Err != nil {
			return nil, fmt.Errorf("consume %s/%d: start offset: %v", topic, p, s.Err)
		}
		if e.Offset > s.Offset {
			assign[p] = kgo.NewOffset().At(s.Offset)
			last[p] = e.Offset - 1
		}
	}
	if len(assign) == 0 {
		return nil, nil
	}
	iso := kgo.ReadUncommitted()
	if readCommitted {
		iso = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(iso),
		kgo.KeepControlRecords(), // a partition may end in a transaction marker
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", topic, err)
	}
	defer cl.Close()
	var out []*kgo.Record
	done := map[int32]bool{}
	for len(done) < len(assign) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("consume %s: %d of %d partitions read to their end: %w", topic, len(done), len(assign), err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("consume %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset > last[r.Partition] {
				done[r.Partition] = true
				return
			}
			if r.Offset == last[r.Partition] {
				done[r.Partition] = true
			}
			if !r.Attrs.IsControl() {
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

package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer"
	"github.com/tallyhq/tally/writer/kafka"
)

// showFile prints the first rows of one rollup file as a table.
func showFile(ctx context.Context, w io.Writer, store *writer.Store, o writer.OutputObject, reg *specs.Registry) error {
	data, err := store.Bucket().ReadAll(ctx, o.Key)
	if err != nil {
		return fmt.Errorf("read %s: %w", o.Key, err)
	}
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("open %s: %w", o.Key, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return err
	}
	tbl, err := fr.ReadTable(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", o.Key, err)
	}
	defer tbl.Release()
	fmt.Fprintf(w, "\n   first rows of %s:\n", o.Key)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var head []string
	for _, f := range tbl.Schema().Fields() {
		head = append(head, f.Name)
	}
	fmt.Fprintln(tw, "   "+strings.Join(head, "\t"))
	n := int(min(tbl.NumRows(), 5))
	for i := 0; i < n; i++ {
		var cells []string
		for c := 0; c < int(tbl.NumCols()); c++ {
			cells = append(cells, cell(tbl.Column(c).Data().Chunks()[0].ValueStr(i)))
		}
		fmt.Fprintln(tw, "   "+strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func cell(s string) string {
	if len(s) > 24 {
		return s[:21] + "..."
	}
	return s
}

// showRecords prints a few decoded Kafka records of the first topic with records.
func showRecords(ctx context.Context, w io.Writer, brokers []string, reg *specs.Registry) error {
	topics := map[string]bool{}
	for _, a := range reg.Aggregations {
		if a.Output.Kafka != nil {
			topics[strings.ReplaceAll(a.Output.Kafka.Topic, "{aggregation}", a.Name)] = true
		}
	}
	var names []string
	for t := range topics {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, topic := range names {
		recs, err := kafka.Consume(ctx, brokers, topic, true)
		if err != nil {
			return fmt.Errorf("consume %s: %w", topic, err)
		}
		fmt.Fprintf(w, "\n5. Kafka topic %s on the in-process broker %s: %d committed records, e.g.\n", topic, strings.Join(brokers, ","), len(recs))
		for i, rec := range recs {
			if i == 3 {
				break
			}
			d, err := kafka.Decode(rec)
			if err != nil {
				return err
			}
			var vals []string
			for _, f := range d.Functions {
				vals = append(vals, fmt.Sprintf("%s=%.6g", f, d.Values[f]))
			}
			fmt.Fprintf(w, "   partition %d offset %d key %q (%s, spec %s): %s\n", rec.Partition, rec.Offset, rec.Key, d.Encoding, d.SpecVersion, strings.Join(vals, " "))
		}
	}
	return nil
}

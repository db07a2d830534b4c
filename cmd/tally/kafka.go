package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/backfill"
	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer/kafka"
)

// kafkaFlags are the Kafka output flags shared by backfill and repair.
type kafkaFlags struct {
	cfg       kafka.Config
	envErr    error
	topic     string
	encoding  string
	keyFormat string
}

func (k *kafkaFlags) add(cmd *cobra.Command) {
	k.cfg = kafka.DefaultConfig()
	// Environment first, so flags override it.
	k.envErr = k.cfg.LoadEnv(os.LookupEnv)
	k.cfg.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&k.topic, "kafka-topic", "", "publish every aggregation to this topic template ({aggregation}, {tenant}, {window}), overriding the registry's output.kafka.topic")
	cmd.Flags().StringVar(&k.encoding, "kafka-encoding", "", "record value encoding for every aggregation: otlp or json (default: the registry's)")
	cmd.Flags().StringVar(&k.keyFormat, "kafka-key-format", "", "record key format for every aggregation: string or windowed (default: the registry's)")
}

// apply applies the overrides to the registry's Kafka outputs.
func (k *kafkaFlags) apply(reg *specs.Registry) error {
	if k.encoding != "" && k.encoding != specs.EncodingOTLP && k.encoding != specs.EncodingJSON {
		return fmt.Errorf("--kafka-encoding %q: want otlp or json", k.encoding)
	}
	if k.keyFormat != "" && k.keyFormat != specs.KeyFormatString && k.keyFormat != specs.KeyFormatWindowed {
		return fmt.Errorf("--kafka-key-format %q: want string or windowed", k.keyFormat)
	}
	for _, a := range reg.Aggregations {
		if k.topic != "" {
			if a.Output.Kafka == nil {
				a.Output.Kafka = &specs.KafkaOutput{Key: specs.DefaultKeyTemplate, KeyFormat: specs.DefaultKeyFormat, Encoding: specs.DefaultEncoding}
			}
			a.Output.Kafka.Topic = k.topic
		}
		if a.Output.Kafka == nil {
			continue
		}
		if k.encoding != "" {
			a.Output.Kafka.Encoding = k.encoding
		}
		if k.keyFormat != "" {
			a.Output.Kafka.KeyFormat = k.keyFormat
		}
	}
	return nil
}

// publisher returns the Kafka publisher, or nil when no brokers are configured.
func (k *kafkaFlags) publisher(_ context.Context, reg *specs.Registry) (backfill.Publisher, func(), error) {
	if k.envErr != nil {
		return nil, func() {}, k.envErr
	}
	if err := k.apply(reg); err != nil {
		return nil, func() {}, err
	}
	if len(k.cfg.Brokers) == 0 {
		for _, a := range reg.Aggregations {
			if a.Output.Kafka != nil {
				slog.Warn("aggregation has a Kafka output but no brokers are configured; publishing nothing (set --kafka-brokers)", "aggregation", a.Name)
				break
			}
		}
		return nil, func() {}, nil
	}
	if err := k.cfg.Validate(); err != nil {
		return nil, func() {}, err
	}
	sink, err := kafka.NewSink(k.cfg, reg, slog.Default())
	if err != nil {
		return nil, func() {}, err
	}
	return sink, sink.Close, nil
}

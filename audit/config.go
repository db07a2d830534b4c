package audit

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tallyhq/tally/specs"
)

// Defaults of Config.
const (
	// DefaultGrace is the streaming job's grace period assumed when none is given.
	DefaultGrace = 5 * time.Minute
	// DefaultWorstSeries is how many series the report plots.
	DefaultWorstSeries = 6
)

// Config is one audit.
type Config struct {
	// Registry is the validated metric registry.
	Registry *specs.Registry
	// From and To bound the audited windows: [From, To), aligned to the registry's
	// largest window.
	From, To time.Time
	// SourceURL overrides the registry's raw lake URL when not empty.
	SourceURL string
	// Stream is the stream's output: kafka://host:port[,host:port]/topic, or a blob
	// URL holding rollup Parquet in the rollup layout.
	Stream string
	// Batch, when set, is a blob URL of existing rollups used as the batch truth
	// instead of computing it from the lake.
	Batch string
	// Aggregations restricts the audit to these aggregation names (default: every
	// aggregation routed to the stream: those whose Kafka topic is the stream's
	// topic, or with Parquet output for an archive).
	Aggregations []string
	// Grace is the streaming job's grace period: a point counts only when it arrived
	// before window end + Grace. Used to explain differences (default DefaultGrace).
	Grace time.Duration
	// Tolerance compares float functions (default DefaultTolerance()).
	Tolerance Tolerance
	// KafkaOpts are connection options for the stream's brokers (TLS, SASL).
	KafkaOpts []kgo.Opt
	// Parallelism is the number of row groups decoded at once (default: CPUs).
	Parallelism int
	// WorstSeries is how many series the report plots (default DefaultWorstSeries).
	WorstSeries int
	// Logger logs progress (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.Registry == nil {
		errs = append(errs, errors.New("audit: a registry is required (--spec)"))
	}
	if !c.To.After(c.From) {
		errs = append(errs, fmt.Errorf("audit: --from %s must be before --to %s", c.From.Format(time.RFC3339), c.To.Format(time.RFC3339)))
	}
	if _, err := ParseStreamURL(c.Stream); err != nil {
		errs = append(errs, fmt.Errorf("audit: --stream: %w", err))
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.Grace < 0 {
		errs = append(errs, fmt.Errorf("audit: --grace %s must not be negative", c.Grace))
	}
	if c.Tolerance == (Tolerance{}) {
		c.Tolerance = DefaultTolerance()
	}
	if err := c.Tolerance.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("audit: %w", err))
	}
	if c.WorstSeries == 0 {
		c.WorstSeries = DefaultWorstSeries
	}
	if c.WorstSeries < 0 {
		errs = append(errs, fmt.Errorf("audit: worst series %d must not be negative", c.WorstSeries))
	}
	if c.Parallelism < 0 {
		errs = append(errs, fmt.Errorf("audit: parallelism %d must not be negative", c.Parallelism))
	}
	if c.Registry != nil {
		for i, name := range c.Aggregations {
			if c.Registry.Aggregation(name) == nil {
				errs = append(errs, fmt.Errorf("audit: aggregations[%d]: %q is not in the registry", i, name))
			}
		}
		if w := c.Registry.MaxWindow(); w > 0 && (c.From.UnixNano()%int64(w) != 0 || c.To.UnixNano()%int64(w) != 0) {
			errs = append(errs, fmt.Errorf("audit: --from %s and --to %s must be aligned to the largest window of the registry (%s)",
				c.From.Format(time.RFC3339), c.To.Format(time.RFC3339), specs.FormatWindow(w)))
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return errors.Join(errs...)
}

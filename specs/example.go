package specs

import (
	_ "embed"
)

//go:embed examples/kafka-telemetry.yaml
var exampleRegistry []byte

// Example returns the example registry for Kafka-cluster telemetry
// (specs/examples/kafka-telemetry.yaml) with its source URL replaced by sourceURL.
// tally demo runs it.
func Example(sourceURL string) (*Registry, error) {
	reg, err := Parse("specs/examples/kafka-telemetry.yaml", exampleRegistry)
	if err != nil {
		return nil, err
	}
	reg.Source.URL = sourceURL
	return reg, nil
}

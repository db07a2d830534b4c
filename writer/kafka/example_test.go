package kafka_test

import (
	"fmt"

	"github.com/tallyhq/tally/writer/kafka"
)

// The partition of a key is the one the Kafka Java client's default partitioner picks,
// so a backfilled record lands beside its streamed twin.
func ExamplePartition() {
	key := []byte(`broker_cpu_5m|tenant=acme,cluster=eu-west\,k1,broker=b1|1767225600000`)
	fmt.Println(kafka.Partition(key, 12) == kafka.Partition(key, 12), kafka.Partition([]byte("foobar"), 12))
	// Output: true 6
}

// Dimension values are escaped in keys so the key splits back without ambiguity.
func ExampleEscapeKeyValue() {
	fmt.Println(kafka.EscapeKeyValue("eu-west,k1"), kafka.EscapeKeyValue("a=b|c"))
	// Output: eu-west\,k1 a\=b\|c
}

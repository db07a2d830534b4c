// Package kafka publishes rollup rows as Kafka records interchangeable with the
// streaming job's, and reads them back.
//
// The record contract (topic and key templates, the windowed key layout, the
// Java-compatible murmur2 partition, headers, and the OTLP and JSON values) is
// docs/kafka-records.md; Encoder writes it, Decode reads it, and the golden files under
// testdata/golden pin its bytes.
//
// Sink publishes each task exactly once: one transaction per task under a
// transactional ID derived from the task ID, a pending marker written through a Journal
// before the commit, and Recover to tell after a crash whether that commit happened.
// Config holds the connection, security (SASL, TLS), compression, in-flight and
// byte-rate settings, from flags and TALLY_KAFKA_* environment variables.
package kafka

package gen

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
)

// Contract column names of the raw segment schema, in file order.
const (
	ColTime         = "time"
	ColStartTime    = "start_time"
	ColMetric       = "metric"
	ColType         = "type"
	ColTemporality  = "temporality"
	ColMonotonic    = "monotonic"
	ColValue        = "value"
	ColTenant       = "tenant"
	ColCluster      = "cluster"
	ColBroker       = "broker"
	ColTopic        = "topic"
	ColRequestType  = "request_type"
	ColCount        = "count"
	ColSum          = "sum"
	ColMin          = "min"
	ColMax          = "max"
	ColBounds       = "bounds"
	ColBucketCounts = "bucket_counts"
	ColIngestTime   = "ingest_time"
)

// ContractColumns returns the contract column names in the order they are written.
func ContractColumns() []string {
	return []string{
		ColTime, ColStartTime, ColMetric, ColType, ColTemporality, ColMonotonic, ColValue,
		ColTenant, ColCluster, ColBroker, ColTopic, ColRequestType,
		ColCount, ColSum, ColMin, ColMax, ColBounds, ColBucketCounts, ColIngestTime,
	}
}

// Dimensions returns the dimension columns that, with the metric, identify a series.
func Dimensions() []string {
	return []string{ColTenant, ColCluster, ColBroker, ColTopic, ColRequestType}
}

// Column indexes in the Arrow schema (the order of ContractColumns).
const (
	iTime = iota
	iStartTime
	iMetric
	iType
	iTemporality
	iMonotonic
	iValue
	iTenant
	iCluster
	iBroker
	iTopic
	iRequestType
	iCount
	iSum
	iMin
	iMax
	iBounds
	iBucketCounts
	iIngestTime
	numColumns
)

// unitResolution is the time resolution of each TimeUnit: every written time is a
// whole multiple of it, so no unit conversion ever truncates.
var unitResolution = map[string]time.Duration{
	UnitS:       time.Second,
	UnitMS:      time.Millisecond,
	UnitUS:      time.Microsecond,
	UnitNS:      time.Nanosecond,
	UnitInt64MS: time.Millisecond,
	UnitInt64NS: time.Nanosecond,
}

var codecs = map[string]compress.Compression{
	CodecZstd:   compress.Codecs.Zstd,
	CodecSnappy: compress.Codecs.Snappy,
	CodecLZ4Raw: compress.Codecs.Lz4Raw,
	CodecGzip:   compress.Codecs.Gzip,
	CodecNone:   compress.Codecs.Uncompressed,
}

// timeType is the Arrow type of the time columns for a TimeUnit.
func timeType(unit string) arrow.DataType {
	switch unit {
	case UnitInt64MS, UnitInt64NS:
		return arrow.PrimitiveTypes.Int64
	case UnitUS:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case UnitNS:
		return &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	default: // s and ms: Parquet has no seconds unit, seconds are written as whole milliseconds.
		return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	}
}

// storageUnit is the duration of one stored integer of the time columns.
func storageUnit(unit string) time.Duration {
	switch unit {
	case UnitUS:
		return time.Microsecond
	case UnitNS, UnitInt64NS:
		return time.Nanosecond
	default:
		return time.Millisecond
	}
}

// arrowSchema is the written schema with the configured column names and time unit.
func arrowSchema(c *Config) *arrow.Schema {
	tt := timeType(c.TimeUnit)
	f := func(contract string, typ arrow.DataType, nullable bool) arrow.Field {
		return arrow.Field{Name: c.physical(contract), Type: typ, Nullable: nullable}
	}
	str := stringDictType // written as UTF-8 BYTE_ARRAY with dictionary encoding
	f64 := arrow.PrimitiveTypes.Float64
	fields := []arrow.Field{
		f(ColTime, tt, false),
		f(ColStartTime, tt, true),
		f(ColMetric, str, false),
		f(ColType, str, false),
		f(ColTemporality, str, true),
		f(ColMonotonic, arrow.FixedWidthTypes.Boolean, true),
		f(ColValue, f64, true),
		f(ColTenant, str, false),
		f(ColCluster, str, false),
		f(ColBroker, str, false),
		f(ColTopic, arrow.BinaryTypes.String, false),
		f(ColRequestType, arrow.BinaryTypes.String, false),
		f(ColCount, arrow.PrimitiveTypes.Int64, true),
		f(ColSum, f64, true),
		f(ColMin, f64, true),
		f(ColMax, f64, true),
		f(ColBounds, arrow.ListOfNonNullable(f64), true),
		f(ColBucketCounts, arrow.ListOfNonNullable(arrow.PrimitiveTypes.Int64), true),
		f(ColIngestTime, tt, false),
	}
	return arrow.NewSchema(fields, nil)
}

// createdBy is written into every footer; fixed so that files are reproducible.
const createdBy = "tally gen (arrow-go v18)"

// writerProperties are the fixed Parquet writer settings: the configured codec,
// dictionary encoding for string columns only, statistics on every column.
func writerProperties(c *Config) *parquet.WriterProperties {
	opts := []parquet.WriterProperty{
		parquet.WithCreatedBy(createdBy),
		parquet.WithVersion(parquet.V2_LATEST),
		parquet.WithDataPageVersion(parquet.DataPageV1),
		parquet.WithCompression(codecs[c.Codec]),
		parquet.WithMaxRowGroupLength(int64(c.RowGroupRows)),
		parquet.WithStats(true),
		parquet.WithDictionaryDefault(false),
	}
	for _, col := range []string{ColMetric, ColType, ColTemporality, ColTenant, ColCluster, ColBroker, ColTopic, ColRequestType} {
		opts = append(opts, parquet.WithDictionaryFor(c.physical(col), true))
	}
	return parquet.NewWriterProperties(opts...)
}

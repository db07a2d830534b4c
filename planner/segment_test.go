package planner

import "testing"

// TestIsSegment: the names real writers give Parquet segments are kept; markers,
// hidden files and other formats are not.
func TestIsSegment(t *testing.T) {
	for key, want := range map[string]bool{
		"dt=2026-11-01/hour=08/part-00001-5e0c.c000.snappy.parquet": true,
		"dt=2026-11-01/hour=08/data.PARQUET":                        true,
		"dt=2026-11-01/hour=08/segment.parq":                        true,
		"dt=2026-11-01/hour=08/segment.pq":                          true,
		"dt=2026-11-01/hour=08/000000_0":                            true,
		"dt=2026-11-01/hour=08/000001_0_copy_1":                     true,
		"dt=2026-11-01/hour=08/part-7a1f3c-0-0":                     true,
		"dt=2026-11-01/hour=08/_SUCCESS":                            false,
		"dt=2026-11-01/hour=08/.part-1.parquet.crc":                 false,
		"dt=2026-11-01/hour=08/_delta_log/000.json":                 false,
		"dt=2026-11-01/hour=08/descriptor.json":                     false,
		"dt=2026-11-01/hour=08/README":                              false,
		"dt=2026-11-01/hour=08/data.csv":                            false,
		"_tmp/dt=2026-11-01/x.parquet":                              false,
	} {
		if got := isSegment(key, 100); got != want {
			t.Errorf("isSegment(%q) = %v, want %v", key, got, want)
		}
	}
	if isSegment("x.parquet", 0) {
		t.Error("an empty object is not a segment")
	}
}

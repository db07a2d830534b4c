package bench

import (
	"errors"
	"testing"
)

func TestCompareTables(t *testing.T) {
	row := func(ws int64, tenant string, count int64, sum float64, buckets ...int64) map[string]cell {
		r := map[string]cell{
			"window_start": {isInt: true, i: ws}, "tenant": {isStr: true, s: tenant},
			"count": {isInt: true, i: count}, "sum": {f: sum}, "max": {null: true},
		}
		l := cell{isLst: true}
		for _, b := range buckets {
			l.list = append(l.list, cell{isInt: true, i: b})
		}
		r["bucket_counts"] = l
		return r
	}
	table := func(rows ...map[string]cell) *Table {
		t := &Table{Rows: map[string]map[string]cell{}}
		for _, r := range rows {
			k, _ := rowKey(r, []string{"tenant"})
			t.Rows[k] = r
		}
		return t
	}
	want := table(row(0, "a", 3, 1.5, 1, 2), row(60000, "a", 1, 1e12, 0, 1))
	cases := []struct {
		name  string
		other *Table
		ok    bool
	}{
		{"equal", table(row(0, "a", 3, 1.5, 1, 2), row(60000, "a", 1, 1e12, 0, 1)), true},
		{"float within tolerance", table(row(0, "a", 3, 1.5*(1+1e-12), 1, 2), row(60000, "a", 1, 1e12+1e-1, 0, 1)), true},
		{"float outside tolerance", table(row(0, "a", 3, 1.5*(1+1e-6), 1, 2), row(60000, "a", 1, 1e12, 0, 1)), false},
		{"count off by one", table(row(0, "a", 4, 1.5, 1, 2), row(60000, "a", 1, 1e12, 0, 1)), false},
		{"bucket differs", table(row(0, "a", 3, 1.5, 1, 3), row(60000, "a", 1, 1e12, 0, 1)), false},
		{"row missing", table(row(0, "a", 3, 1.5, 1, 2)), false},
		{"extra row", table(row(0, "a", 3, 1.5, 1, 2), row(60000, "a", 1, 1e12, 0, 1), row(0, "b", 1, 1, 0, 1)), false},
		{"other group", table(row(0, "a", 3, 1.5, 1, 2), row(60000, "b", 1, 1e12, 0, 1)), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CompareTables("agg", want, c.other)
			if c.ok && err != nil {
				t.Fatalf("want equal, got %v", err)
			}
			if !c.ok {
				var m *Mismatch
				if !errors.As(err, &m) || m.Differences == 0 {
					t.Fatalf("want a mismatch, got %v", err)
				}
			}
		})
	}
}

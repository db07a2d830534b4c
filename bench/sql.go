package bench

import (
	"fmt"
	"strings"

	"github.com/tallyhq/tally/specs"
)

// noTimeSQL is tally's marker of an unknown start_time (math.MinInt64): nulls sort
// first among duplicates, as in exec.
const noTimeSQL = "-9223372036854775808"

// quoteIdent quotes a column name for DuckDB.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString quotes a string literal for DuckDB.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func quoteStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quoteString(s)
	}
	return strings.Join(q, ", ")
}

// AggregationSQL is the DuckDB query that computes one aggregation of the job,
// following docs/semantics.md. Its columns carry the names of the rollup columns
// (window_start and window_end as epoch milliseconds).
func AggregationSQL(j *Job, a *JobAggregation) (string, error) {
	series := []string{"metric"}
	for _, d := range j.Dimensions {
		series = append(series, quoteIdent(d))
	}
	seriesList := strings.Join(series, ", ")
	seriesKey := "(t, " + seriesList + ")" // order of first/last ties: time, then series key
	groups := make([]string, len(a.GroupBy))
	for i, g := range a.GroupBy {
		groups[i] = quoteIdent(g)
	}
	groupList := strings.Join(groups, ", ")
	files := make([]string, len(j.Files))
	for i, f := range j.Files {
		files[i] = quoteString(f)
	}
	lo := j.FromMS
	if a.Kind == "sum/cumulative/monotonic" {
		lo -= a.StalenessMS // predecessors before the range
	}
	hist := a.Kind == specs.TypeHistogram

	var b strings.Builder
	// raw: the aggregation's points with times in epoch ms; filters first, junk dropped.
	b.WriteString("WITH raw AS (\n  SELECT epoch_ms(\"time\") AS t, coalesce(epoch_ms(start_time), " + noTimeSQL + ") AS s, metric")
	for _, d := range j.Dimensions {
		fmt.Fprintf(&b, ", coalesce(%s, '') AS %s", quoteIdent(d), quoteIdent(d))
	}
	if hist {
		b.WriteString(`, "count" AS hc, "sum" AS hs, "min" AS hmin, "max" AS hmax, bounds, bucket_counts`)
	} else {
		b.WriteString(", value AS v")
	}
	fmt.Fprintf(&b, "\n  FROM read_parquet([%s])\n", strings.Join(files, ", "))
	fmt.Fprintf(&b, "  WHERE metric IN (%s) AND epoch_ms(\"time\") >= %d AND epoch_ms(\"time\") < %d", quoteStrings(a.Metrics), lo, j.ToMS)
	for _, f := range a.Filters {
		op := "IN"
		if f.Negate {
			op = "NOT IN"
		}
		fmt.Fprintf(&b, " AND coalesce(%s, '') %s (%s)", quoteIdent(f.Dimension), op, quoteStrings(f.Values))
	}
	if hist {
		b.WriteString(" AND \"count\" IS NOT NULL AND (\"sum\" IS NULL OR isfinite(\"sum\"))")
	} else {
		b.WriteString(" AND value IS NOT NULL AND isfinite(value)")
	}
	b.WriteString("\n)")
	w := a.WindowMS
	win := fmt.Sprintf("(t // %d) * %d", w, w)
	secs := fmt.Sprintf("%d.0", w/1000)
	if w%1000 != 0 {
		secs = fmt.Sprintf("%g", float64(w)/1000)
	}
	inRange := fmt.Sprintf("t >= %d AND t < %d", j.FromMS, j.ToMS)
	var sel []string
	add := func(expr, name string) { sel = append(sel, expr+" AS "+quoteIdent(name)) }
	add(win, "window_start")
	add(win+fmt.Sprintf(" + %d", w), "window_end")
	for i, g := range a.GroupBy {
		add(groups[i], g)
	}
	switch a.Kind {
	case specs.TypeGauge, "sum/delta":
		// Exact duplicates count once; the kept one is the smallest value.
		fmt.Fprintf(&b, ",\npts AS (\n  SELECT %s, t, min(v) AS v FROM raw GROUP BY %s, t\n)\n", seriesList, seriesList)
		for _, f := range a.Functions {
			switch f {
			case specs.FnCount:
				add("count(*)", f)
			case specs.FnSum:
				add("sum(v)", f)
			case specs.FnMin:
				add("min(v)", f)
			case specs.FnMax:
				add("max(v)", f)
			case specs.FnAvg:
				add("sum(v) / count(*)", f)
			case specs.FnFirst:
				add("arg_min(v, "+seriesKey+")", f)
			case specs.FnLast:
				add("arg_max(v, "+seriesKey+")", f)
			case specs.FnRate:
				add("sum(v) / "+secs, f)
			default:
				return "", fmt.Errorf("aggregation %s: function %s of a %s", a.Name, f, a.Kind)
			}
		}
		add("count(*)", "samples")
		fmt.Fprintf(&b, "SELECT %s\nFROM pts WHERE %s\nGROUP BY ALL", strings.Join(sel, ",\n  "), inRange)
	case "sum/cumulative/monotonic":
		// Duplicates: the kept one is the first by (value, start_time). Then the
		// predecessor is the previous point of the series if it lies within staleness.
		fmt.Fprintf(&b, `,
dedup AS (
  SELECT %[1]s, t, min({'v': v, 's': s}) AS k FROM raw GROUP BY %[1]s, t
),
pts AS (
  SELECT %[1]s, t, k.v AS v, k.s AS s,
    lag(t) OVER w AS pt, lag(k.v) OVER w AS pv, lag(k.s) OVER w AS ps
  FROM dedup WINDOW w AS (PARTITION BY %[1]s ORDER BY t)
),
inc AS (
  SELECT *, CASE
    WHEN s <> %[2]s AND t = s THEN 0
    WHEN pt IS NOT NULL AND t - pt <= %[3]d THEN
      CASE WHEN s = ps AND v >= pv THEN v - pv ELSE v END
    WHEN s <> %[2]s AND t - s <= %[3]d AND s <= t THEN v
    ELSE 0 END AS inc
  FROM pts WHERE %[4]s
)
`, seriesList, noTimeSQL, a.StalenessMS, inRange)
		for _, f := range a.Functions {
			switch f {
			case specs.FnDelta:
				add("sum(inc)", f)
			case specs.FnRate:
				add("sum(inc) / "+secs, f)
			case specs.FnCount:
				add("count(*)", f)
			case specs.FnLast:
				add("arg_max(v, "+seriesKey+")", f)
			case specs.FnFirst:
				add("arg_min(v, "+seriesKey+")", f)
			case specs.FnMin:
				add("min(v)", f)
			case specs.FnMax:
				add("max(v)", f)
			default:
				return "", fmt.Errorf("aggregation %s: function %s of a %s", a.Name, f, a.Kind)
			}
		}
		add("count(*)", "samples")
		fmt.Fprintf(&b, "SELECT %s\nFROM inc\nGROUP BY ALL", strings.Join(sel, ",\n  "))
	case specs.TypeHistogram:
		fmt.Fprintf(&b, `,
pts AS (
  SELECT DISTINCT ON (%[1]s, t) %[1]s, t, hc, hs, hmin, hmax, bounds, bucket_counts,
    %[2]s AS ws
  FROM raw WHERE %[3]s
),
buckets AS (
  SELECT ws, %[4]s, i, sum(c) AS c FROM (
    SELECT ws, %[4]s, unnest(bucket_counts) AS c, generate_subscripts(bucket_counts, 1) AS i FROM pts
  ) GROUP BY ALL
),
blist AS (
  SELECT ws, %[4]s, list(c ORDER BY i) AS bucket_counts FROM buckets GROUP BY ALL
),
agg AS (
  SELECT ws, %[4]s, count(*) AS samples, sum(hc) AS cnt, sum(coalesce(hs, 0)) AS hsum,
    CASE WHEN bool_and(hmin IS NOT NULL AND hmax IS NOT NULL) FILTER (WHERE hc > 0) THEN min(hmin) FILTER (WHERE hc > 0) END AS hmin,
    CASE WHEN bool_and(hmin IS NOT NULL AND hmax IS NOT NULL) FILTER (WHERE hc > 0) THEN max(hmax) FILTER (WHERE hc > 0) END AS hmax,
    any_value(bounds) AS bounds
  FROM pts GROUP BY ALL
)
`, seriesList, win, inRange, groupList)
		sel = sel[:0]
		add("agg.ws", "window_start")
		add(fmt.Sprintf("agg.ws + %d", w), "window_end")
		for i, g := range a.GroupBy {
			add("agg."+groups[i], g)
		}
		for _, f := range a.Functions {
			switch f {
			case specs.FnCount:
				add("cnt", f)
			case specs.FnSum:
				add("hsum", f)
			case specs.FnMin:
				add("hmin", f)
			case specs.FnMax:
				add("hmax", f)
			case specs.FnAvg:
				add("hsum / nullif(cnt, 0)", f)
			case specs.FnBuckets:
				add("bounds", "bucket_bounds")
				add("blist.bucket_counts", "bucket_counts")
			default:
				return "", fmt.Errorf("aggregation %s: function %s of a %s", a.Name, f, a.Kind)
			}
		}
		add("samples", "samples")
		using := append([]string{"ws"}, groups...)
		fmt.Fprintf(&b, "SELECT %s\nFROM agg LEFT JOIN blist USING (%s)", strings.Join(sel, ",\n  "), strings.Join(using, ", "))
	default:
		return "", fmt.Errorf("aggregation %s: kind %s", a.Name, a.Kind)
	}
	return b.String(), nil
}

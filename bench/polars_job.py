"""Computes a tally benchmark job with Polars, following docs/semantics.md.

Usage: python polars_job.py JOB.json

The job (bench.Job, written by the Go harness) lists the lake's files, the source
dimensions, the range [from_ms, to_ms) and the aggregations. One Parquet file per
aggregation is written to out_dir as <aggregation>.parquet, with the rollup column
names (window_start and window_end as epoch milliseconds).
"""

import json
import os
import sys
import time

job = json.load(open(sys.argv[1]))
os.environ.setdefault("POLARS_MAX_THREADS", str(job["threads"]))

import polars as pl  # noqa: E402  (the thread count must be set before the import)

NO_TIME = -(2**63)  # tally's marker of an unknown start_time: sorts first


def series_cols(job):
    return ["metric"] + job["dimensions"]


def scan(job, agg, lo):
    dims = job["dimensions"]
    hist = agg["kind"] == "histogram"
    cols = ["time", "start_time", "metric"] + dims
    cols += ["count", "sum", "min", "max", "bounds", "bucket_counts"] if hist else ["value"]
    lf = pl.scan_parquet(job["files"]).select(cols)
    lf = lf.filter(pl.col("metric").is_in(agg["metrics"]))
    lf = lf.with_columns(
        pl.col("time").dt.epoch("ms").alias("t"),
        pl.col("start_time").dt.epoch("ms").fill_null(NO_TIME).alias("s"),
        *[pl.col(d).fill_null("") for d in dims],
    ).filter((pl.col("t") >= lo) & (pl.col("t") < job["to_ms"]))
    for f in agg["filters"] or []:
        cond = pl.col(f["dimension"]).is_in(f["values"])
        lf = lf.filter(~cond if f["negate"] else cond)
    if hist:
        lf = lf.filter(pl.col("count").is_not_null() & (pl.col("sum").is_null() | pl.col("sum").is_finite()))
    else:
        lf = lf.filter(pl.col("value").is_not_null() & pl.col("value").is_finite()).rename({"value": "v"})
    return lf


def window_cols(agg):
    w = agg["window_ms"]
    return [((pl.col("t") // w) * w).alias("window_start")]


def tie_sorted(expr, series):
    """expr ordered by time, then series key: first/last with tally's tie rules."""
    return expr.sort_by(["t"] + series)


def compute(job, agg):
    series = series_cols(job)
    w, secs = agg["window_ms"], agg["window_ms"] / 1000.0
    kind = agg["kind"]
    groups = ["window_start"] + agg["group_by"]
    fns = agg["functions"]
    out = []
    if kind in ("gauge", "sum/delta"):
        lf = scan(job, agg, job["from_ms"])
        # Exact duplicates count once; the kept one is the smallest value.
        lf = lf.group_by(series + ["t"]).agg(pl.col("v").min())
        lf = lf.with_columns(window_cols(agg))
        for f in fns:
            e = {
                "count": pl.len(),
                "sum": pl.col("v").sum(),
                "min": pl.col("v").min(),
                "max": pl.col("v").max(),
                "avg": pl.col("v").sum() / pl.len(),
                "first": tie_sorted(pl.col("v"), series).first(),
                "last": tie_sorted(pl.col("v"), series).last(),
                "rate": pl.col("v").sum() / secs,
            }[f]
            out.append(e.alias(f))
        out.append(pl.len().alias("samples"))
        res = lf.group_by(groups).agg(out)
    elif kind == "sum/cumulative/monotonic":
        st = agg["staleness_ms"]
        lf = scan(job, agg, job["from_ms"] - st)
        # Duplicates: the kept one is the first by (value, start_time).
        lf = lf.sort(series + ["t", "v", "s"]).unique(subset=series + ["t"], keep="first", maintain_order=True)
        same = pl.lit(True)
        for c in series:
            same = same & (pl.col(c) == pl.col(c).shift(1))
        lf = lf.with_columns(
            pl.when(same).then(pl.col("t").shift(1)).alias("pt"),
            pl.when(same).then(pl.col("v").shift(1)).alias("pv"),
            pl.when(same).then(pl.col("s").shift(1)).alias("ps"),
        )
        t, s, v, pt, pv, ps = (pl.col(c) for c in ("t", "s", "v", "pt", "pv", "ps"))
        inc = (
            pl.when((s != NO_TIME) & (t == s)).then(0.0)
            .when(pt.is_not_null() & (t - pt <= st))
            .then(pl.when((s == ps) & (v >= pv)).then(v - pv).otherwise(v))
            .when((s != NO_TIME) & (t - s <= st) & (s <= t)).then(v)
            .otherwise(0.0)
        )
        lf = lf.with_columns(inc.alias("inc")).filter(t >= job["from_ms"]).with_columns(window_cols(agg))
        for f in fns:
            e = {
                "delta": pl.col("inc").sum(),
                "rate": pl.col("inc").sum() / secs,
                "count": pl.len(),
                "last": tie_sorted(pl.col("v"), series).last(),
                "first": tie_sorted(pl.col("v"), series).first(),
                "min": pl.col("v").min(),
                "max": pl.col("v").max(),
            }[f]
            out.append(e.alias(f))
        out.append(pl.len().alias("samples"))
        res = lf.group_by(groups).agg(out)
    elif kind == "histogram":
        lf = scan(job, agg, job["from_ms"]).unique(subset=series + ["t"], keep="any")
        lf = lf.with_columns(window_cols(agg))
        nonempty = pl.col("count") > 0
        has_mm = (pl.col("min").is_not_null() & pl.col("max").is_not_null()).filter(nonempty).all()
        agg_exprs = [
            pl.len().alias("samples"),
            pl.col("count").sum().alias("cnt"),
            pl.col("sum").fill_null(0.0).sum().alias("hsum"),
            pl.when(has_mm & nonempty.any()).then(pl.col("min").filter(nonempty).min()).alias("hmin"),
            pl.when(has_mm & nonempty.any()).then(pl.col("max").filter(nonempty).max()).alias("hmax"),
            pl.col("bounds").first().alias("bucket_bounds"),
        ]
        main = lf.group_by(groups).agg(agg_exprs)
        buckets = (
            lf.select(groups + ["bucket_counts"])
            .with_columns(pl.int_ranges(pl.col("bucket_counts").list.len()).alias("i"))
            .explode(["bucket_counts", "i"])
            .group_by(groups + ["i"]).agg(pl.col("bucket_counts").sum())
            .sort(groups + ["i"])
            .group_by(groups, maintain_order=True).agg(pl.col("bucket_counts"))
        )
        res = main.join(buckets, on=groups, how="left")
        cols = []
        for f in fns:
            cols += {
                "count": [pl.col("cnt").alias("count")],
                "sum": [pl.col("hsum").alias("sum")],
                "min": [pl.col("hmin").alias("min")],
                "max": [pl.col("hmax").alias("max")],
                "avg": [(pl.col("hsum") / pl.when(pl.col("cnt") != 0).then(pl.col("cnt"))).alias("avg")],
                "buckets": [pl.col("bucket_bounds"), pl.col("bucket_counts")],
            }[f]
        res = res.select(groups + cols + ["samples"])
    else:
        raise SystemExit(f"aggregation {agg['name']}: kind {kind} is not expressed for Polars")
    res = res.with_columns((pl.col("window_start") + w).alias("window_end"))
    os.makedirs(job["out_dir"], exist_ok=True)
    res.sink_parquet(os.path.join(job["out_dir"], agg["name"] + ".parquet"))


began = time.perf_counter()
for a in job["aggregations"]:
    compute(job, a)
seconds = time.perf_counter() - began
hwm = 0
with open("/proc/self/status") as status:
    for line in status:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
print(json.dumps({"seconds": seconds, "max_rss_bytes": hwm, "polars": pl.__version__}))

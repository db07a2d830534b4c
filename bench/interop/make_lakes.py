#!/usr/bin/env python3
"""Writes the interop lakes under testdata/interop/ and their expected rollups.

Each lake holds the same kind of telemetry (gauges, cumulative counters with resets,
gaps and predecessors before the range, delta sums, explicit histograms, exact and
conflicting duplicates, NaN, Inf and null values) written by a different Parquet
writer in that writer's own dialect: pyarrow, pandas, a Spark-like writer (INT96,
legacy two-level lists, parquet-mr footer), DuckDB, Polars, and a sparse pyarrow lake
with null dimensions and missing optional columns. docs/interop.md lists the quirks.

The expected rollups are computed independently, in DuckDB SQL over the files just
written, following docs/semantics.md; backfill/interop_test.go runs tally over the
same files and compares every row.

Usage: python bench/interop/make_lakes.py   (needs pyarrow, pandas, duckdb, polars)
"""

import datetime as dt
import json
import math
import os
import random
import shutil
import struct
import sys
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import thrift_compact as tc  # noqa: E402

ROOT = Path(__file__).resolve().parents[2] / "testdata" / "interop"
UTC = dt.timezone.utc
DAY = dt.datetime(2026, 11, 1, tzinfo=UTC)
FROM = DAY + dt.timedelta(hours=8)
TO = DAY + dt.timedelta(hours=10)
# Points are generated from DATA_START (before the lookback) to DATA_END (after TO).
DATA_START = FROM - dt.timedelta(minutes=30)
DATA_END = TO + dt.timedelta(minutes=10)
DIMS = ["tenant", "cluster", "broker", "topic", "request_type"]
STALENESS_MS = 10 * 60 * 1000
BOUNDS = [1.0, 5.0, 10.0, 50.0, 100.0, 500.0]

CPU, BYTES, ERRORS, LATENCY = "kafka.broker.cpu", "kafka.server.bytes_in", "kafka.server.request_errors", "kafka.request.latency"

AGGREGATIONS = """
aggregations:
  - name: cpu_1m
    metric: kafka.broker.cpu
    type: gauge
    window: 1m
    group_by: [tenant, cluster, broker]
    functions: [count, sum, min, max, avg, first, last]
  - name: cpu_5m
    metric: kafka.broker.cpu
    type: gauge
    window: 5m
    group_by: [tenant]
    functions: [count, avg, first, last]
  - name: bytes_in_1m
    metric: kafka.server.bytes_in
    type: sum
    temporality: cumulative
    monotonic: true
    window: 1m
    group_by: [tenant, cluster]
    functions: [delta, rate, count, last]
    staleness: 10m
  - name: errors_5m
    metric: kafka.server.request_errors
    type: sum
    temporality: delta
    window: 5m
    group_by: [tenant, cluster, request_type]
    filters:
      - {dimension: request_type, op: in, values: [Produce, Fetch]}
    functions: [sum, count, rate, min, max]
  - name: latency_1h
    metric: kafka.request.latency
    type: histogram
    temporality: delta
    window: 1h
    group_by: [tenant, request_type]
    functions: [count, sum, min, max, avg, buckets]
"""

# name -> (kind, window ms, group_by, value functions in Aggregation.ValueFunctions order)
AGGS = {
    "cpu_1m": ("gauge", CPU, 60_000, ["tenant", "cluster", "broker"], ["sum", "min", "max", "avg", "first", "last"]),
    "cpu_5m": ("gauge", CPU, 300_000, ["tenant"], ["avg", "first", "last"]),
    "bytes_in_1m": ("counter", BYTES, 60_000, ["tenant", "cluster"], ["delta", "rate", "last"]),
    "errors_5m": ("delta", ERRORS, 300_000, ["tenant", "cluster", "request_type"], ["sum", "rate", "min", "max"]),
    "latency_1h": ("histogram", LATENCY, 3_600_000, ["tenant", "request_type"], ["sum", "min", "max", "avg"]),
}


def ms(t):
    return int(t.timestamp() * 1000)


# ---------------------------------------------------------------------------------
# Logical points (contract names; times in epoch milliseconds)
# ---------------------------------------------------------------------------------

def point(**kw):
    row = {c: None for c in ["time", "start_time", "metric", "type", "temporality", "monotonic", "value",
                             *DIMS, "count", "sum", "min", "max", "bounds", "bucket_counts", "ingest_time"]}
    row.update(kw)
    if row["ingest_time"] is None:
        row["ingest_time"] = row["time"] + 1500
    return row


def points(seed, null_dims=False):
    """The lake's points: realistic telemetry with every quirk semantics.md names."""
    rng = random.Random(seed)
    empty = None if null_dims else ""
    brokers = [("t1", "c1", "b1"), ("t1", "c1", "b2"), ("t2", "c1", "b1"), ("t2", "c2", "b1"), ("t2", "c2", "b2")]
    out = []
    start_ms, end_ms = ms(DATA_START), ms(DATA_END)

    # Gauges: one point a minute per broker; b1 brokers report on the minute (ties
    # across series in cpu_5m's first/last), b2 brokers at :30.
    for ten, clu, bro in brokers:
        off = 0 if bro == "b1" else 30_000
        for t in range(start_ms + off, end_ms, 60_000):
            if ten == "t2" and clu == "c2" and bro == "b2" and null_dims:
                bro_v = None if (t // 60_000) % 2 else ""  # null and "" are the same series
            else:
                bro_v = bro
            v = round(rng.uniform(0, 100), 2)
            out.append(point(time=t, metric=CPU, type="gauge", value=v, tenant=ten, cluster=clu, broker=bro_v,
                             topic=empty, request_type=empty))
            r = rng.random()
            if r < 0.04:  # exact duplicate (a retried write)
                out.append(dict(out[-1]))
            elif r < 0.05:  # conflicting duplicate: the smaller value wins
                dup = dict(out[-1])
                dup["value"] = round(v + 7.5, 2)
                out.append(dup)
            elif r < 0.06:
                out.append(point(time=t + 5_000, metric=CPU, type="gauge", value=float("nan"), tenant=ten,
                                 cluster=clu, broker=bro_v, topic=empty, request_type=empty))
    # Window edges: the last millisecond of 08:04 and the first of 08:05.
    edge = ms(DAY + dt.timedelta(hours=8, minutes=5))
    for t, v in [(edge - 1, 11.25), (edge, 12.5)]:
        out.append(point(time=t, metric=CPU, type="gauge", value=v, tenant="t1", cluster="c1", broker="b3",
                         topic=empty, request_type=empty))
    out.append(point(time=edge + 7_000, metric=CPU, type="gauge", value=float("inf"), tenant="t1", cluster="c1",
                     broker="b3", topic=empty, request_type=empty))
    out.append(point(time=edge + 8_000, metric=CPU, type="gauge", value=None, tenant="t1", cluster="c1",
                     broker="b3", topic=empty, request_type=empty))

    # Cumulative counters: per broker and topic, one point a minute at :15.
    s0 = ms(DAY + dt.timedelta(hours=6))
    h = lambda hh, mm, ss=15: ms(DAY + dt.timedelta(hours=hh, minutes=mm, seconds=ss))  # noqa: E731
    for ten, clu, bro in brokers:
        for topic in ["topic-a", "topic-b"]:
            key = (ten, clu, bro, topic)
            total, start = rng.randint(10_000, 90_000), s0
            first_t = start_ms + 15_000
            if key == ("t2", "c2", "b2", "topic-a"):
                first_t, start = h(8, 20), h(8, 20)  # opens at its start_time: carries nothing
            if key == ("t2", "c2", "b1", "topic-b"):
                first_t, start = h(8, 45), h(8, 44, 0)  # started recently: all of it is new
            for t in range(first_t, end_ms, 60_000):
                if key == ("t2", "c1", "b1", "topic-b") and h(8, 40) <= t < h(8, 55):
                    continue  # a gap longer than staleness: the next point is a baseline
                total += rng.randint(0, 5_000)
                if key == ("t1", "c1", "b1", "topic-a") and t == h(8, 30):
                    total = rng.randint(10, 500)  # value drop, same start_time: a reset
                if key == ("t1", "c1", "b2", "topic-a") and t == h(9, 0):
                    start, total = h(9, 0, 10), rng.randint(10, 500)  # new start_time: a reset
                if key == ("t2", "c2", "b2", "topic-a") and t == first_t:
                    total = 0
                out.append(point(time=t, start_time=start, metric=BYTES, type="sum", temporality="cumulative",
                                 monotonic=True, value=float(total), tenant=ten, cluster=clu, broker=bro,
                                 topic=topic, request_type=empty))
                if rng.random() < 0.03:
                    out.append(dict(out[-1]))
    # A NaN counter point must not become anyone's predecessor.
    out.append(point(time=h(9, 10, 45), start_time=s0, metric=BYTES, type="sum", temporality="cumulative",
                     monotonic=True, value=float("nan"), tenant="t1", cluster="c1", broker="b1", topic="topic-b",
                     request_type=empty))

    # Delta sums: errors per broker and request type every 5 minutes.
    for ten, clu, bro in brokers:
        for rt in ["Produce", "Fetch", "Metadata"]:
            for t in range(start_ms + 2_000, end_ms, 300_000):
                out.append(point(time=t, start_time=t - 300_000, metric=ERRORS, type="sum", temporality="delta",
                                 monotonic=True, value=float(rng.choice([0, 0, 1, 2, 3, 7])), tenant=ten, cluster=clu,
                                 broker=bro, topic=empty, request_type=rt))
                if rng.random() < 0.03:
                    out.append(dict(out[-1]))

    # Delta histograms: latency per cluster and request type every 5 minutes.
    for ten, clu in [("t1", "c1"), ("t2", "c1"), ("t2", "c2")]:
        for rt in ["Produce", "Fetch"]:
            for t in range(start_ms + 30_000, end_ms, 300_000):
                counts = [rng.randint(0, 20) for _ in range(len(BOUNDS) + 1)]
                n = sum(counts)
                lo, hi = round(rng.uniform(0.1, 1.0), 3), round(rng.uniform(500, 900), 3)
                s = round(sum(c * (b if b < 500 else 600) * 0.6 for c, b in zip(counts, BOUNDS + [600.0])), 3)
                has_minmax = rng.random() > 0.15
                out.append(point(time=t, start_time=t - 300_000, metric=LATENCY, type="histogram",
                                 temporality="delta", tenant=ten, cluster=clu, broker=empty, topic=empty,
                                 request_type=rt, count=n, sum=s, min=lo if has_minmax else None,
                                 max=hi if has_minmax else None, bounds=list(BOUNDS), bucket_counts=counts))
                if rng.random() < 0.04:
                    out.append(dict(out[-1]))
    # A histogram whose sum is NaN is dropped.
    out.append(point(time=h(8, 12, 0), start_time=h(8, 7, 0), metric=LATENCY, type="histogram", temporality="delta",
                     tenant="t1", cluster="c1", broker=empty, topic=empty, request_type="Fetch", count=3,
                     sum=float("nan"), bounds=list(BOUNDS), bucket_counts=[1, 1, 1, 0, 0, 0, 0]))

    if null_dims:
        # A duplicate whose topic is null where the original's is "": one series.
        for r in list(out):
            if r["metric"] == ERRORS and r["request_type"] == "Fetch" and r["broker"] == "b2":
                dup = dict(r)
                dup["topic"] = ""
                out.append(dup)
                break
    rng.shuffle(out)
    out.sort(key=lambda r: r["time"] // 600_000)  # roughly time-ordered, shuffled within 10 minutes
    return out


def to_table(rows, drop=()):
    """An Arrow table with the contract names and default types (times as ms)."""
    cols = {
        "time": pa.int64(), "start_time": pa.int64(), "metric": pa.string(), "type": pa.string(),
        "temporality": pa.string(), "monotonic": pa.bool_(), "value": pa.float64(),
        **{d: pa.string() for d in DIMS},
        "count": pa.int64(), "sum": pa.float64(), "min": pa.float64(), "max": pa.float64(),
        "bounds": pa.list_(pa.float64()), "bucket_counts": pa.list_(pa.int64()), "ingest_time": pa.int64(),
    }
    return pa.table({c: pa.array([r[c] for r in rows], type=t) for c, t in cols.items() if c not in drop})


def ts_col(col, unit, tz):
    """An epoch-ms int64 column as a timestamp of the given unit and time zone."""
    mult = {"ms": 1, "us": 1_000, "ns": 1_000_000}[unit]
    return pa.compute.multiply(col, mult).cast(pa.timestamp(unit, tz=tz)) if mult > 1 else col.cast(pa.timestamp(unit, tz=tz))


def by_hour(rows):
    out = {}
    for r in rows:
        out.setdefault(r["time"] // 3_600_000, []).append(r)
    return sorted(out.items())


def hour_of(k):
    return dt.datetime.fromtimestamp(k * 3600, UTC)


# ---------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------

def write_pyarrow(lake, rows):
    """pyarrow: TIMESTAMP(MICROS) in a non-UTC zone, plain strings, a string_view
    column, map and struct columns nobody reads, data page v2 with BYTE_STREAM_SPLIT and
    DELTA_BINARY_PACKED encodings, no statistics on the time column, a page index,
    per-column codecs (snappy, brotli, LZ4_RAW, zstd, gzip, none), one row group, renamed columns in another order, one file at the root (flat layout)."""
    t = to_table(rows)
    n = len(rows)
    out = pa.table({
        "val": t["value"],
        "ts": ts_col(t["time"], "us", "America/New_York"),
        "name": t["metric"],
        "attributes": pa.array([[("host", f"h{i % 7}"), ("az", "eu-west-1a")] for i in range(n)],
                               type=pa.map_(pa.string(), pa.string())),
        "resource": pa.array([{"region": "eu-west-1", "pod": i % 3} for i in range(n)]),
        "series_start": ts_col(t["start_time"], "us", "UTC"),
        "org": t["tenant"].cast(pa.string_view()), "cluster": t["cluster"], "broker": t["broker"], "topic": t["topic"],
        "request_type": t["request_type"],
        "hist_count": t["count"], "hist_sum": t["sum"], "hist_min": t["min"], "hist_max": t["max"],
        "bounds": t["bounds"], "bucket_counts": t["bucket_counts"],
        "received_at": ts_col(t["ingest_time"], "us", "UTC"),
    })
    # per leaf column; received_at is left uncompressed
    codecs = {c: "snappy" for c in out.column_names if c not in ("attributes", "resource", "bounds", "bucket_counts", "received_at")}
    codecs.update({"name": "brotli", "val": "lz4", "series_start": "zstd", "bounds.list.element": "gzip",
                   "bucket_counts.list.element": "snappy", "attributes.key_value.key": "zstd",
                   "attributes.key_value.value": "zstd", "resource.region": "zstd", "resource.pod": "zstd"})
    pq.write_table(out, lake / "telemetry.parquet", compression=codecs, use_dictionary=False,
                   row_group_size=n, data_page_version="2.0", write_page_index=True,
                   write_statistics=[c for c in out.column_names if c != "ts"],
                   column_encoding={"val": "BYTE_STREAM_SPLIT", "ts": "DELTA_BINARY_PACKED",
                                    "hist_count": "DELTA_BINARY_PACKED"})


def write_pandas(lake, rows):
    """pandas: naive datetime64[ns] (not UTC-adjusted), tz-aware ns start times, a
    category dimension, a shuffled index stored as __index_level_0__, hive-daily."""
    df = pd.DataFrame(rows)
    df["time"] = pd.to_datetime(df["time"], unit="ms").astype("datetime64[ns]")
    # The last nanosecond of the 08:04 window still belongs to it.
    edge = (df["broker"] == "b3") & (df["time"] == pd.Timestamp(FROM.replace(tzinfo=None) + dt.timedelta(minutes=5, milliseconds=-1)))
    assert edge.sum() == 1
    df.loc[edge, "time"] = pd.Timestamp(FROM.replace(tzinfo=None) + dt.timedelta(minutes=5)) - pd.Timedelta(1, "ns")
    df["start_time"] = pd.to_datetime(df["start_time"], unit="ms", utc=True).astype("datetime64[ns, UTC]")
    df["ingest_time"] = pd.to_datetime(df["ingest_time"], unit="ms", utc=True).astype("datetime64[ns, UTC]")
    df["tenant"] = df["tenant"].astype("category")
    df["count"] = df["count"].astype("Int64")
    df["monotonic"] = df["monotonic"].astype("boolean")
    df = df.sample(frac=1.0, random_state=7)  # the index is no longer a range: pandas stores it
    df["dt"] = df["time"].dt.strftime("%Y-%m-%d")
    df.to_parquet(lake, engine="pyarrow", partition_cols=["dt"], basename_template="part-{i}.parquet")


def write_spark(lake, rows):
    """Spark-like: INT96 event times, start times as TIMESTAMP_MICROS with only the
    legacy converted type, legacy two-level lists, gzip, dictionary strings that fall
    back to PLAIN pages mid-chunk, parquet-mr's
    created_by and root name, a decoy `time` string column, older files without min/max
    and with int32 counts, an empty part file, hive with zero-padded hours,
    part-…-c000 names, _SUCCESS and .crc files."""
    hours = by_hour(rows)
    for i, (k, hrows) in enumerate(hours + [(hours[2][0], [])]):
        t = to_table(hrows)
        hh = hour_of(k)
        old = i < 2  # written before min/max were added, with int32 counts
        cols = {
            "event_time": ts_col(t["time"], "ns", None),
            "time": pa.array([f"{r['time'] // 1000 % 86400 // 3600:02d}:{r['time'] // 60000 % 60:02d}" for r in hrows], pa.string()),
            "metric_name": t["metric"], "metric_type": t["type"], "temporality": t["temporality"],
            "is_monotonic": t["monotonic"], "metric_value": t["value"],
            "start_time": pa.compute.multiply(t["start_time"], 1000),  # epoch us, annotated below
            "tenant": t["tenant"], "cluster": t["cluster"], "broker": t["broker"], "topic": t["topic"],
            "request_type": t["request_type"], "count": t["count"].cast(pa.int32()) if old else t["count"],
            "sum": t["sum"], "min": t["min"], "max": t["max"],
            # non-null elements: the levels equal those of a two-level list (see thrift_compact.py)
            "bounds": t["bounds"].cast(pa.list_(pa.field("element", pa.float64(), nullable=False))),
            "bucket_counts": t["bucket_counts"].cast(pa.list_(pa.field("element", pa.int64(), nullable=False))),
        }
        if old:
            del cols["min"], cols["max"]
        out = pa.table(cols)
        d = lake / f"dt={hh:%Y-%m-%d}" / f"hour={hh:%H}"
        d.mkdir(parents=True, exist_ok=True)
        name = f"part-{i:05d}-5e0c1f3a-2b7d-4c59-9a61-0d3e8f4b7a21.c000.gz.parquet"
        # a 64-byte dictionary limit: string chunks start dictionary-encoded and fall
        # back to PLAIN pages once the dictionary is full, as high-cardinality columns do
        pq.write_table(out, d / name, compression="gzip", use_deprecated_int96_timestamps=True,
                       store_schema=False, row_group_size=256, dictionary_pagesize_limit=64, data_page_size=512,
                       write_batch_size=16)
        to_spark_footer(d / name, ["bounds", "bucket_counts"], ["start_time"])
        (d / f".{name}.crc").write_bytes(b"crc\x00" + struct.pack(">I", i))
    (lake / "_SUCCESS").write_bytes(b"")


def to_spark_footer(path, lists, micros):
    """Rewrites the footer as parquet-mr 1.10 writes it: lists
    `group x (LIST) { repeated group list { required T element } }` become two-level
    `group x (LIST) { repeated T array }`; the timestamp columns `micros` keep only the
    legacy converted type TIMESTAMP_MICROS; parquet-mr's root name and created_by."""
    names = lists
    data = path.read_bytes()
    (n,) = struct.unpack("<I", data[-8:-4])
    start = len(data) - 8 - n
    meta = tc.Reader(data[start:-8]).struct()
    schema = tc.get(meta, 2)[1]
    tc.put(schema[0], 4, tc.BINARY, b"spark_schema")
    out = []
    i = 0
    while i < len(schema):
        el = schema[i]
        out.append(el)
        if tc.get(el, 4).decode() in micros:
            tc.drop(el, 10)  # logicalType
            tc.put(el, 6, tc.I32, 10)  # converted_type TIMESTAMP_MICROS
        if tc.get(el, 4).decode() in names:
            mid, leaf = schema[i + 1], schema[i + 2]
            assert tc.get(mid, 3) == 2 and tc.get(leaf, 3) == 0, "expected repeated group with a required leaf"
            tc.put(leaf, 3, tc.I32, 2)  # REPEATED
            tc.put(leaf, 4, tc.BINARY, b"array")
            out.append(leaf)
            i += 3
            continue
        i += 1
    schema[:] = out
    for rg in tc.get(meta, 4)[1]:
        for cc in tc.get(rg, 1)[1]:
            cmd = tc.get(cc, 3)
            path_in_schema = tc.get(cmd, 3)[1]
            if path_in_schema[0].decode() in names:
                path_in_schema[:] = [path_in_schema[0], b"array"]
    tc.put(meta, 6, tc.BINARY, b"parquet-mr version 1.10.1 (build a89df8f9932b6ef6633d06069e50c9b7970bebd1)")
    tc.drop(meta, 5)  # no pyarrow key-value metadata
    w = tc.Writer()
    w.struct(meta)
    path.write_bytes(data[:start] + bytes(w.out) + struct.pack("<I", len(w.out)) + b"PAR1")


def write_duckdb(lake, rows):
    """DuckDB: BIGINT epoch-millisecond times without annotation, DECIMAL(18,4) values
    (NaN and Inf become NULL), UBIGINT bucket counts,
    PARTITION_BY (dt, hour) with unpadded integer hours, zstd, format V2 (data page v2,
    DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, BYTE_STREAM_SPLIT)."""
    t = to_table(rows)
    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.register("pts", t)
    con.execute(f"""
        COPY (
          SELECT time AS ts_ms, start_time AS start_ms, metric, type, temporality, monotonic,
                 CASE WHEN isfinite(value) THEN value::DECIMAL(18, 4) END AS value,
                 tenant, cluster, broker, topic, request_type,
                 count, sum, min, max, bounds, bucket_counts::UBIGINT[] AS bucket_counts,
                 CAST(make_timestamp(time * 1000) AS DATE) AS dt,
                 CAST(hour(make_timestamp(time * 1000)) AS INTEGER) AS hour
          FROM pts ORDER BY dt, hour, metric, time
        ) TO '{lake}' (FORMAT parquet, PARTITION_BY (dt, hour), COMPRESSION zstd, ROW_GROUP_SIZE 2048,
                        PARQUET_VERSION V2)
    """)
    con.close()


def write_polars(lake, rows):
    """Polars: large_string and large_list, a Categorical dimension, a struct column
    nobody reads, TIMESTAMP(MILLIS, UTC), float32 values,
    uint64 bucket counts, lz4, druid interval folders (':' written as '_')."""
    for k, hrows in by_hour(rows):
        t = to_table(hrows)
        df = pl.from_arrow(t).select(
            pl.col("time").cast(pl.Datetime("ms", "UTC")).alias("timestamp"),
            pl.col("start_time").cast(pl.Datetime("ms", "UTC")),
            pl.col("metric").alias("metric_name"),
            pl.col("value").cast(pl.Float32),
            *[pl.col(d).cast(pl.Categorical) if d == "cluster" else pl.col(d) for d in DIMS],
            pl.struct(pl.lit("eu-west-1").alias("region"), pl.col("tenant").alias("owner")).alias("labels"),
            pl.col("count"), pl.col("sum"), pl.col("min"), pl.col("max"), pl.col("bounds"),
            pl.col("bucket_counts").cast(pl.List(pl.UInt64)),
        )
        s, e = hour_of(k), hour_of(k + 1)
        iso = lambda x: x.strftime("%Y-%m-%dT%H_%M_%S.000Z")  # noqa: E731
        d = lake / f"{iso(s)}_{iso(e)}" / "2026-11-05T10_00_00.000Z" / "0"
        d.mkdir(parents=True, exist_ok=True)
        df.write_parquet(d / "index.parquet", compression="lz4", row_group_size=512)


def write_sparse(lake, rows):
    """pyarrow, sparse: null dimensions, an int32 dimension (broker ids), the tenant as
    binary without the STRING annotation, REQUIRED time and metric columns, no
    start_time/ingest_time/type/min/max columns,
    float32 values, uint64 bucket counts, uint16 histogram counts, naive
    TIMESTAMP(MILLIS), many small row groups, hive with zero-padded hours."""
    for k, hrows in by_hour(rows):
        t = to_table(hrows)
        out = pa.table({
            "time": ts_col(t["time"], "ms", None), "metric": t["metric"].cast(pa.string()),
            "value": t["value"].cast(pa.float32()),
            **{d: t[d] for d in DIMS},
            "tenant": t["tenant"].cast(pa.binary()),
            "broker": pa.array([int(r["broker"][1:]) if r["broker"] else None for r in hrows], pa.int32()),
            "count": t["count"].cast(pa.uint16()), "sum": t["sum"],
            "bounds": t["bounds"], "bucket_counts": t["bucket_counts"].cast(pa.list_(pa.uint64())),
        })
        # time and metric are REQUIRED columns
        out = out.cast(pa.schema([f.with_nullable(f.name not in ("time", "metric")) for f in out.schema]))
        hh = hour_of(k)
        d = lake / f"dt={hh:%Y-%m-%d}" / f"hour={hh:%H}"
        d.mkdir(parents=True, exist_ok=True)
        pq.write_table(out, d / "part-0.parquet", compression="zstd", row_group_size=100)


# ---------------------------------------------------------------------------------
# Lakes: writer, registry source block, DuckDB view mapping the files to contract names
# ---------------------------------------------------------------------------------

LAKES = {
    "pyarrow": dict(
        seed=101, write=write_pyarrow,
        source="""  layout: flat
  columns: {time: ts, start_time: series_start, metric: name, value: val, tenant: org, count: hist_count, sum: hist_sum, min: hist_min, max: hist_max, ingest_time: received_at}""",
        cols=dict(time="ts", start_time="series_start", metric="name", value="val", tenant="org", count="hist_count",
                  sum="hist_sum", min="hist_min", max="hist_max")),
    "pandas": dict(
        seed=202, write=write_pandas,
        source="""  layout: hive-daily""",
        cols={}),
    "spark": dict(
        seed=303, write=write_spark,
        source="""  layout: hive
  columns: {time: event_time, metric: metric_name, value: metric_value, type: metric_type, monotonic: is_monotonic}""",
        cols=dict(time="event_time", metric="metric_name", value="metric_value")),
    "duckdb": dict(
        seed=404, write=write_duckdb,
        source="""  layout: hive
  time_unit: auto
  columns: {time: ts_ms, start_time: start_ms}""",
        cols=dict(time="ts_ms", start_time="start_ms"), int_time_ms=True),
    "polars": dict(
        seed=505, write=write_polars,
        source="""  layout: druid
  columns: {time: timestamp, metric: metric_name}""",
        cols=dict(time="timestamp", metric="metric_name")),
    "sparse": dict(
        seed=606, write=write_sparse, null_dims=True,
        source="""  layout: hive""",
        cols=dict(start_time=None, min=None, max=None)),
}


def registry(name, spec):
    return f"""# Registry of the {name} interop lake (bench/interop/make_lakes.py). The test
# replaces source.url with the lake's absolute file:// URL.
version: 1
source:
  url: file://./lake
{spec["source"]}
  dimensions: [{", ".join(DIMS)}]
  tenant: tenant
{AGGREGATIONS.lstrip()}"""


# ---------------------------------------------------------------------------------
# Expected results, in DuckDB SQL over the written files (docs/semantics.md)
# ---------------------------------------------------------------------------------

def contract_view(con, lake, spec):
    """Creates table pts: one row per point, contract names, times as epoch ns, null
    dimensions as ''."""
    con.execute(f"CREATE VIEW files AS SELECT * FROM read_parquet('{lake}/**/*.parquet', hive_partitioning = false, union_by_name = true)")
    have = {r[0]: r[1] for r in con.execute("DESCRIBE files").fetchall()}
    cols = spec["cols"]

    def col(c):
        p = cols.get(c, c)
        return p if p is not None and p in have else None

    def t(c):
        p = col(c)
        if p is None:
            return "NULL::BIGINT"
        if have[p] == "BIGINT":
            return f"{p} * 1000000"
        return f"epoch_ns({p}::TIMESTAMP_NS)" if "WITH TIME ZONE" not in have[p] else f"epoch_ns({p})"

    def v(c, cast):
        p = col(c)
        return f"CAST({p} AS {cast})" if p else f"NULL::{cast}"

    dims = ", ".join(f"coalesce(CAST({col(d)} AS VARCHAR), '') AS {d}" for d in DIMS)
    con.execute(f"""
        CREATE TABLE pts AS SELECT
          {t("time")} AS t, {t("start_time")} AS st, {col("metric")} AS metric, {v("value", "DOUBLE")} AS value,
          {dims},
          {v("count", "BIGINT")} AS cnt, {v("sum", "DOUBLE")} AS hsum, {v("min", "DOUBLE")} AS hmin,
          {v("max", "DOUBLE")} AS hmax, {v("bounds", "DOUBLE[]")} AS bounds, {v("bucket_counts", "BIGINT[]")} AS bcounts
        FROM files""")


SERIES = "metric, " + ", ".join(DIMS)
SERIES_DESC = ", ".join(f"{c} DESC" for c in ["metric", *DIMS])


def expected_rows(con, name, drops):
    kind, metric, w, group, fns = AGGS[name]
    lo, hi = ms(FROM) * 1_000_000, ms(TO) * 1_000_000
    wns = w * 1_000_000
    g = ", ".join(group)
    filt = "AND request_type IN ('Produce', 'Fetch')" if name == "errors_5m" else ""
    if kind == "histogram":
        valid = "cnt IS NOT NULL AND (hsum IS NULL OR NOT isnan(hsum))"
    else:
        valid = "value IS NOT NULL AND isfinite(value)"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE dd AS
        SELECT * EXCLUDE (rn), (t // {wns}) * {wns} AS ws FROM (
          SELECT *, row_number() OVER (PARTITION BY {SERIES}, t ORDER BY value, st) AS rn
          FROM pts WHERE metric = '{metric}' {filt} AND {valid}
        ) WHERE rn = 1""")
    if kind == "gauge":
        sql = f"""SELECT {g}, ws, count(*) AS samples, count(*) AS cnt, sum(value) AS sum, min(value) AS min,
                   max(value) AS max, sum(value) / count(*) AS avg,
                   first(value ORDER BY t, {SERIES}) AS first, first(value ORDER BY t DESC, {SERIES_DESC}) AS last
                  FROM dd WHERE t >= {lo} AND t < {hi} GROUP BY ALL ORDER BY ALL"""
    elif kind == "counter":
        sql = f"""WITH l AS (
                    SELECT *, lag(t) OVER s AS pt, lag(value) OVER s AS pv, lag(st) OVER s AS pst
                    FROM dd WINDOW s AS (PARTITION BY {SERIES} ORDER BY t)),
                  i AS (
                    SELECT *, CASE
                      WHEN st IS NOT NULL AND t = st THEN 0
                      WHEN pt IS NOT NULL AND pt >= t - {STALENESS_MS * 1_000_000} THEN
                        CASE WHEN st IS NOT DISTINCT FROM pst AND value >= pv THEN value - pv ELSE value END
                      WHEN st IS NOT NULL AND t - st <= {STALENESS_MS * 1_000_000} THEN value
                      ELSE 0 END AS inc
                    FROM l)
                  SELECT {g}, ws, count(*) AS samples, count(*) AS cnt, sum(inc) AS delta, sum(inc) / {w // 1000} AS rate,
                    first(value ORDER BY t DESC, {SERIES_DESC}) AS last
                  FROM i WHERE t >= {lo} AND t < {hi} GROUP BY ALL ORDER BY ALL"""
    elif kind == "delta":
        sql = f"""SELECT {g}, ws, count(*) AS samples, count(*) AS cnt, sum(value) AS sum, sum(value) / {w // 1000} AS rate,
                   min(value) AS min, max(value) AS max
                  FROM dd WHERE t >= {lo} AND t < {hi} GROUP BY ALL ORDER BY ALL"""
    else:
        sql = f"""WITH b AS (
                    SELECT {g}, ws, i, sum(c) AS c FROM (
                      SELECT {g}, ws, unnest(range(1, len(bcounts) + 1)) AS i, unnest(bcounts) AS c
                      FROM dd WHERE t >= {lo} AND t < {hi}) GROUP BY ALL),
                  bl AS (SELECT {g}, ws, list(c ORDER BY i) AS counts FROM b GROUP BY ALL)
                  SELECT {g}, ws, count(*) AS samples, sum(cnt) AS cnt, sum(hsum) AS sum,
                    CASE WHEN count(hmin) = count(*) THEN min(hmin) END AS min,
                    CASE WHEN count(hmax) = count(*) THEN max(hmax) END AS max,
                    sum(hsum) / sum(cnt) AS avg, any_value(bounds) AS bounds, count(DISTINCT bounds) AS nbounds,
                    any_value(bl.counts) AS counts
                  FROM dd JOIN bl USING ({g}, ws) WHERE t >= {lo} AND t < {hi} GROUP BY ALL ORDER BY ALL"""
    # Points of the range dropped before any function: junk (null or non-finite) and
    # the extra copies of a series' point at one time.
    junk, dups = con.execute(f"""
        SELECT count(*) FILTER (WHERE NOT ({valid})),
               count(*) FILTER (WHERE {valid}) - count(DISTINCT ({SERIES}, t)) FILTER (WHERE {valid})
        FROM pts WHERE metric = '{metric}' {filt} AND t >= {lo} AND t < {hi}""").fetchone()
    drops[name] = {"junk": junk, "duplicates": dups}
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    rows = []
    for rec in cur.fetchall():
        r = dict(zip(names, rec))
        row = {
            "window_start": dt.datetime.fromtimestamp(r["ws"] / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "dims": [r[c] for c in group],
            "samples": r["samples"],
            "count": int(r["cnt"]),
            "values": {f: (None if r[f] is None or math.isnan(r[f]) else float(r[f])) for f in fns},
        }
        if kind == "histogram":
            assert r["nbounds"] == 1, f"{name}: mixed bounds in one row"
            row["bucket_bounds"] = [float(x) for x in r["bounds"]]
            row["bucket_counts"] = [int(x) for x in r["counts"]]
        rows.append(row)
    return rows


def expected(lake, spec):
    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute("SET TimeZone = 'UTC'")
    contract_view(con, lake, spec)
    n = con.execute("SELECT count(*) FROM pts").fetchone()[0]
    out = {
        "from": FROM.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "to": TO.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "raw_rows": n,
        "generated_with": {"pyarrow": pa.__version__, "pandas": pd.__version__, "duckdb": duckdb.__version__,
                           "polars": pl.__version__},
    }
    drops = {}
    out["aggregations"] = {name: expected_rows(con, name, drops) for name in AGGS}
    out["drops"] = drops
    con.close()
    return out


def main():
    only = set(sys.argv[1:])
    for name, spec in LAKES.items():
        if only and name not in only:
            continue
        base = ROOT / name
        lake = base / "lake"
        if lake.exists():
            shutil.rmtree(lake)
        lake.mkdir(parents=True)
        rows = points(spec["seed"], null_dims=spec.get("null_dims", False))
        spec["write"](lake, rows)
        (base / "registry.yaml").write_text(registry(name, spec))
        exp = expected(lake, spec)
        assert exp["raw_rows"] == len(rows), f"{name}: DuckDB reads {exp['raw_rows']} rows, {len(rows)} written"
        (base / "expected.json").write_text(json.dumps(exp, indent=1, sort_keys=True) + "\n")
        size = sum(f.stat().st_size for f in lake.rglob("*") if f.is_file())
        nrows = sum(len(v) for v in exp["aggregations"].values())
        print(f"{name}: {len(rows)} points, {size} bytes, {nrows} expected rows")


if __name__ == "__main__":
    main()

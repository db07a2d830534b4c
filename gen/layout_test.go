package gen

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func TestLayouts(t *testing.T) {
	from := time.Date(2026, 10, 31, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		layout string
		want   []string
	}{
		{LayoutHive, []string{
			"dt=2026-10-31/hour=23/part-00000.parquet", "dt=2026-10-31/hour=23/part-00001.parquet",
			"dt=2026-11-01/hour=00/part-00000.parquet", "dt=2026-11-01/hour=00/part-00001.parquet",
			"dt=2026-11-01/hour=01/part-00000.parquet", "dt=2026-11-01/hour=01/part-00001.parquet",
		}},
		{LayoutDruid, []string{
			"2026-10-31T23:00:00.000Z_2026-11-01T00:00:00.000Z/part-00000.parquet", "2026-10-31T23:00:00.000Z_2026-11-01T00:00:00.000Z/part-00001.parquet",
			"2026-11-01T00:00:00.000Z_2026-11-01T01:00:00.000Z/part-00000.parquet", "2026-11-01T00:00:00.000Z_2026-11-01T01:00:00.000Z/part-00001.parquet",
			"2026-11-01T01:00:00.000Z_2026-11-01T02:00:00.000Z/part-00000.parquet", "2026-11-01T01:00:00.000Z_2026-11-01T02:00:00.000Z/part-00001.parquet",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.layout, func(t *testing.T) {
			cfg := small(0)
			cfg.From, cfg.To, cfg.Layout = from, from.Add(105*time.Minute), tc.layout
			b, st := generateMem(t, cfg)
			objs := objects(t, b)
			if got := sortedKeys(objs); !slices.Equal(got, tc.want) || st.Files != len(tc.want) {
				t.Fatalf("objects %q (Stats.Files %d), want %q", got, st.Files, tc.want)
			}
			for _, key := range tc.want {
				hour := partitionHour(t, tc.layout, key)
				for _, p := range decodeFile(t, cfg, key, objs[key]) {
					if p.Time.Truncate(time.Hour) != hour || p.Time.Before(cfg.From) || !p.Time.Before(cfg.To) {
						t.Fatalf("%s holds a point at %s", key, p.Time)
					}
				}
			}
		})
	}
}

// partitionHour parses the hour a key's folder stands for.
func partitionHour(t *testing.T, layout, key string) time.Time {
	t.Helper()
	dir := key[:strings.LastIndex(key, "/")]
	var h time.Time
	var err error
	if layout == LayoutDruid {
		h, err = time.Parse("2006-01-02T15:04:05.000Z", strings.Split(dir, "_")[0])
	} else {
		h, err = time.Parse("dt=2006-01-02/hour=15", dir)
	}
	if err != nil {
		t.Fatalf("folder of %s: %v", key, err)
	}
	return h
}

func TestRenamedColumns(t *testing.T) {
	cfg := small(time.Hour)
	cfg.Columns = map[string]string{ColTime: "ts", ColValue: "val", ColTenant: "customer", ColBucketCounts: "counts", ColIngestTime: "received_at"}
	cfg.TimeUnit = UnitInt64MS
	b, _ := generateMem(t, cfg)
	objs := objects(t, b)
	want := truth(t, cfg)
	for key, data := range objs {
		md := openParquet(t, data).MetaData()
		var names []string
		for i := 0; i < md.Schema.Root().NumFields(); i++ {
			names = append(names, md.Schema.Root().Field(i).Name())
		}
		wantNames := []string{"ts", "start_time", "metric", "type", "temporality", "monotonic", "val", "customer", "cluster", "broker", "topic", "request_type", "count", "sum", "min", "max", "bounds", "counts", "received_at"}
		if !slices.Equal(names, wantNames) {
			t.Fatalf("%s columns %q, want %q", key, names, wantNames)
		}
		got := decodeFile(t, cfg, key, data)
		for i := range got {
			if err := samePoint(got[i], want[key][i]); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestParquetOptions checks codec, row-group size, dictionary encoding and statistics.
func TestParquetOptions(t *testing.T) {
	for _, codec := range []string{CodecZstd, CodecSnappy, CodecLZ4Raw, CodecGzip, CodecNone} {
		t.Run(codec, func(t *testing.T) {
			cfg := small(time.Hour)
			cfg.Codec, cfg.RowGroupRows = codec, 250
			b, _ := generateMem(t, cfg)
			for key, data := range objects(t, b) {
				md := openParquet(t, data).MetaData()
				rows := md.GetNumRows()
				if want := int((rows + 249) / 250); md.NumRowGroups() != want {
					t.Fatalf("%s: %d row groups for %d rows, want %d", key, md.NumRowGroups(), rows, want)
				}
				for g := 0; g < md.NumRowGroups(); g++ {
					rg := md.RowGroup(g)
					if g < md.NumRowGroups()-1 && rg.NumRows() != 250 {
						t.Fatalf("%s row group %d has %d rows", key, g, rg.NumRows())
					}
					for c := 0; c < rg.NumColumns(); c++ {
						cc, err := rg.ColumnChunk(c)
						if err != nil {
							t.Fatal(err)
						}
						checkChunk(t, fmt.Sprintf("%s rg %d column %s", key, g, cc.PathInSchema()), cc, codecs[codec].String())
					}
				}
			}
		})
	}
}

func checkChunk(t *testing.T, where string, cc *metadata.ColumnChunkMetaData, codec string) {
	t.Helper()
	if cc.Compression().String() != codec {
		t.Fatalf("%s: codec %s, want %s", where, cc.Compression(), codec)
	}
	if ok, err := cc.StatsSet(); !ok || err != nil {
		t.Fatalf("%s: no statistics (%v)", where, err)
	}
	isString := slices.Contains([]string{ColMetric, ColType, ColTemporality, ColTenant, ColCluster, ColBroker, ColTopic, ColRequestType}, cc.PathInSchema().String())
	if cc.HasDictionaryPage() != isString {
		t.Fatalf("%s: dictionary page %v, want it only for strings", where, cc.HasDictionaryPage())
	}
}

func TestFilesWithoutTenantsAreNotWritten(t *testing.T) {
	cfg := small(2 * time.Hour)
	cfg.Tenants, cfg.FilesPerPartition = 1, 3
	b, st := generateMem(t, cfg)
	want := []string{"dt=2026-11-01/hour=00/part-00000.parquet", "dt=2026-11-01/hour=01/part-00000.parquet"}
	if got := sortedKeys(objects(t, b)); !slices.Equal(got, want) || st.Files != 2 {
		t.Fatalf("objects %q, Files %d, want %q", got, st.Files, want)
	}
}

// TestS3 writes through an s3:// URL with a path to an in-process S3 server and
// checks the objects are the same bytes, under the path as prefix.
func TestS3(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("lake"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	cfg := small(2 * time.Hour)
	cfg.DuplicateFraction = 0.05
	cfg.URL = "s3://lake/raw/kafka?endpoint=" + srv.URL + "&use_path_style=true&region=us-east-1"
	st, err := GenerateURL(context.Background(), cfg)
	if err != nil {
		t.Fatalf("GenerateURL: %v", err)
	}
	root, err := openBucket(context.Background(), "s3://lake?endpoint="+srv.URL+"&use_path_style=true&region=us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	got := objects(t, root)
	mb, mst := generateMem(t, cfg)
	want := objects(t, mb)
	if st != mst || len(got) != len(want) || len(got) != 4 {
		t.Fatalf("S3 has %d objects (%+v), memory %d (%+v)", len(got), st, len(want), mst)
	}
	for key, data := range want {
		if s3data, ok := got["raw/kafka/"+key]; !ok || string(s3data) != string(data) {
			t.Fatalf("S3 object raw/kafka/%s missing or different (have %q)", key, sortedKeys(got))
		}
	}
}

func TestGenerateURLLocalFolders(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, url, dir string
	}{
		{"file URL, folder created", "file://" + filepath.ToSlash(filepath.Join(dir, "a", "lake")), filepath.Join(dir, "a", "lake")},
		{"plain path", filepath.Join(dir, "b"), filepath.Join(dir, "b")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := small(time.Hour)
			cfg.URL = tc.url
			st, err := GenerateURL(context.Background(), cfg)
			if err != nil {
				t.Fatalf("GenerateURL(%s): %v", tc.url, err)
			}
			files := parquetFiles(t, tc.dir)
			if len(files) != st.Files || st.Files != 2 {
				t.Fatalf("%d files on disk %q, Stats.Files %d", len(files), files, st.Files)
			}
		})
	}
	for _, tc := range []struct{ name, url, want string }{
		{"no URL", "", "URL: required"},
		{"unknown scheme", "ftp://host/lake", `open lake "ftp://host/lake"`},
		{"path and prefix", "s3://b/x?prefix=y/", "either as the path or as ?prefix="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := small(time.Hour)
			cfg.URL = tc.url
			if _, err := GenerateURL(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("GenerateURL(%q) = %v, want an error containing %q", tc.url, err, tc.want)
			}
		})
	}
}

// parquetFiles lists every file under dir and fails on anything but complete Parquet files.
func parquetFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(path, ".parquet") {
			return fmt.Errorf("unexpected file %s", path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		openParquet(t, data)
		out = append(out, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCancelLeavesNoPartialObject cancels a run after its first row group: the
// run reports the cancellation and every object on disk is a complete file.
func TestCancelLeavesNoPartialObject(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := small(4 * time.Hour)
	cfg.URL = "file://" + filepath.ToSlash(dir)
	cfg.RowGroupRows, cfg.Concurrency = 100, 2
	calls := 0
	cfg.Progress = func(int64) {
		calls++
		if calls == 1 {
			cancel()
		}
	}
	st, err := GenerateURL(ctx, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("GenerateURL after cancel = %v, want context.Canceled", err)
	}
	if files := parquetFiles(t, dir); len(files) != st.Files || st.Files >= 8 {
		t.Fatalf("%d files on disk, Stats.Files %d (of 8)", len(files), st.Files)
	}
}

func TestProgressCountsEveryRow(t *testing.T) {
	cfg := small(2 * time.Hour)
	cfg.RowGroupRows, cfg.Concurrency, cfg.DuplicateFraction = 333, 3, 0.1
	var total int64
	cfg.Progress = func(n int64) { total += n } // serialized by Generate; -race checks it
	_, st := generateMem(t, cfg)
	if total != st.Rows {
		t.Fatalf("Progress reported %d rows, Stats %d", total, st.Rows)
	}
	if exp, _ := ExpectedRows(cfg); exp != st.Rows-st.Duplicates {
		t.Fatalf("ExpectedRows %d, written %d less %d duplicates", exp, st.Rows, st.Duplicates)
	}
}

// TestRowGroupStatistics: the min/max statistics of every row group are exactly
// those of its rows, empty strings included, so readers can prune on them.
func TestRowGroupStatistics(t *testing.T) {
	cfg := small(2 * time.Hour)
	cfg.RowGroupRows = 97
	b, _ := generateMem(t, cfg)
	strCols := map[string]func(Point) string{
		ColMetric: func(p Point) string { return p.Metric }, ColType: func(p Point) string { return p.Type },
		ColTenant: func(p Point) string { return p.Tenant }, ColCluster: func(p Point) string { return p.Cluster },
		ColBroker: func(p Point) string { return p.Broker }, ColTopic: func(p Point) string { return p.Topic },
		ColRequestType: func(p Point) string { return p.RequestType },
	}
	for key, data := range objects(t, b) {
		rows := decodeFile(t, cfg, key, data)
		md := openParquet(t, data).MetaData()
		start := 0
		for g := 0; g < md.NumRowGroups(); g++ {
			rg := md.RowGroup(g)
			part := rows[start : start+int(rg.NumRows())]
			start += int(rg.NumRows())
			for c := 0; c < rg.NumColumns(); c++ {
				cc, _ := rg.ColumnChunk(c)
				name := cc.PathInSchema().String()
				st, err := cc.Statistics()
				if err != nil {
					t.Fatal(err)
				}
				switch s := st.(type) {
				case *metadata.ByteArrayStatistics:
					get, ok := strCols[name]
					if !ok {
						continue
					}
					lo, hi := get(part[0]), get(part[0])
					for _, p := range part {
						lo, hi = min(lo, get(p)), max(hi, get(p))
					}
					if string(s.Min()) != lo || string(s.Max()) != hi {
						t.Fatalf("%s rg %d %s: statistics [%q, %q], rows [%q, %q]", key, g, name, s.Min(), s.Max(), lo, hi)
					}
				case *metadata.Int64Statistics:
					if name != ColTime {
						continue
					}
					lo, hi := part[0].Time, part[0].Time
					for _, p := range part {
						lo, hi = minTime(lo, p.Time), maxTime(hi, p.Time)
					}
					if s.Min() != lo.UnixMilli() || s.Max() != hi.UnixMilli() {
						t.Fatalf("%s rg %d time: statistics [%d, %d], rows [%s, %s]", key, g, s.Min(), s.Max(), lo, hi)
					}
				}
			}
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

package writer

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tallyhq/tally/specs"
)

// Layout of the output tree, relative to the output URL.
const (
	// MetaPrefix holds everything that is not rollup data.
	MetaPrefix = "_tally/"
	// TasksPrefix holds one manifest per committed task.
	TasksPrefix = MetaPrefix + "tasks/"
	// PendingPrefix holds the Kafka writer's pending-transaction markers.
	PendingPrefix = MetaPrefix + "pending/"
	// RunsPrefix holds one summary per run and latest.json.
	RunsPrefix = MetaPrefix + "runs/"
	// TenantPrefix starts every rollup key: tenant=<escaped tenant>/.
	TenantPrefix = "tenant="
	// RollupExt ends every rollup object name.
	RollupExt = ".parquet"
	// EmptyTenant is the partition value of the empty tenant (a missing tenant
	// dimension), as Hive and Spark name a null partition.
	EmptyTenant = "__HIVE_DEFAULT_PARTITION__"
	// LatestRun is the run summary name that always holds the most recent run.
	LatestRun = "latest"
)

// maxIDLen bounds task and run IDs, so keys stay far below the 1024-byte limit of S3.
const maxIDLen = 200

// RollupKey is the object key of one tenant's rollup of agg for one task:
//
//	tenant=<tenant>/<aggregation>/dt=<YYYY-MM-DD of taskStart, UTC>/<aggregation>-<spec version>-<taskID>.parquet
//
// The tenant is escaped with EscapeTenant. The key depends only on its arguments, so
// a rerun of the same task with the same spec version overwrites the same object.
func RollupKey(agg *specs.Aggregation, tenant, taskID string, taskStart time.Time) string {
	return TenantPrefix + EscapeTenant(tenant) + "/" + agg.Name + "/dt=" + taskStart.UTC().Format(time.DateOnly) +
		"/" + agg.Name + "-" + agg.Version + "-" + taskID + RollupExt
}

// RollupRef is what a rollup key says about its object.
type RollupRef struct {
	Tenant      string // unescaped
	Aggregation string
	Date        string // YYYY-MM-DD
	SpecVersion string
	TaskID      string
}

// ParseRollupKey splits a key written by RollupKey. It reports false for any other
// key, so foreign objects in the output tree are never mistaken for rollups.
func ParseRollupKey(key string) (RollupRef, bool) {
	var r RollupRef
	parts := strings.Split(key, "/")
	if len(parts) != 4 || !strings.HasPrefix(parts[0], TenantPrefix) || !strings.HasPrefix(parts[2], "dt=") {
		return r, false
	}
	tenant, ok := UnescapeTenant(strings.TrimPrefix(parts[0], TenantPrefix))
	if !ok {
		return r, false
	}
	r.Tenant, r.Aggregation, r.Date = tenant, parts[1], strings.TrimPrefix(parts[2], "dt=")
	if _, err := time.Parse(time.DateOnly, r.Date); err != nil || r.Aggregation == "" {
		return r, false
	}
	name, ok := strings.CutSuffix(parts[3], RollupExt)
	if !ok {
		return r, false
	}
	rest, ok := strings.CutPrefix(name, r.Aggregation+"-")
	if !ok {
		return r, false
	}
	// Spec versions are hex hashes without '-', so the first '-' ends the version.
	version, task, ok := strings.Cut(rest, "-")
	if !ok || version == "" || task == "" {
		return r, false
	}
	r.SpecVersion, r.TaskID = version, task
	return r, CheckID("task", r.TaskID) == nil
}

// EscapeTenant makes a tenant value safe as one path segment, the way Hive and Spark
// escape partition values: the bytes " # % ' * / : = ? \ { [ ] ^, control characters,
// DEL and bytes of invalid UTF-8 become %XX (upper-case hex); the values "." and ".."
// become %2E and %2E%2E; the empty value becomes EmptyTenant (and a tenant literally
// named EmptyTenant starts with %5F). Everything else, valid non-ASCII UTF-8 included,
// is kept as it is. The escaping is one-to-one: UnescapeTenant reverses it.
func EscapeTenant(t string) string {
	switch t {
	case "":
		return EmptyTenant
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	case EmptyTenant:
		return "%5F" + EmptyTenant[1:] // keep the literal name apart from the empty value
	}
	var b strings.Builder
	for i := 0; i < len(t); {
		r, size := utf8.DecodeRuneInString(t[i:])
		if r == utf8.RuneError && size <= 1 {
			fmt.Fprintf(&b, "%%%02X", t[i])
			i++
			continue
		}
		if r < 0x80 && needsEscape(byte(r)) {
			fmt.Fprintf(&b, "%%%02X", byte(r))
		} else {
			b.WriteString(t[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(c byte) bool {
	if c < 0x20 || c == 0x7f {
		return true
	}
	return strings.IndexByte(`"#%'*/:=?\{[]^`, c) >= 0
}

// UnescapeTenant reverses EscapeTenant. It reports false for a segment EscapeTenant
// cannot have produced.
func UnescapeTenant(s string) (string, bool) {
	if s == EmptyTenant {
		return "", true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if needsEscape(c) {
				return "", false
			}
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	out := b.String()
	if EscapeTenant(out) != s {
		return "", false
	}
	return out, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ManifestKey is the key of a task's manifest.
func ManifestKey(taskID string) string { return TasksPrefix + taskID + ".json" }

// PendingKey is the key of a task's pending Kafka-transaction marker.
func PendingKey(taskID string) string { return PendingPrefix + taskID + ".json" }

// RunSummaryKey is the key of a run's summary (LatestRun for the latest one).
func RunSummaryKey(runID string) string { return RunsPrefix + runID + ".json" }

// CheckID validates a task or run ID: 1 to 200 bytes of letters, digits and
// . _ - + = %, not starting with '.', so that it is one safe path segment on every
// store. (The planner writes tenant-shard IDs as …-tenant=<tenant, %XX-escaped>.)
func CheckID(kind, id string) error {
	if id == "" {
		return fmt.Errorf("%s ID is empty", kind)
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("%s ID %.40q… is %d bytes, more than the %d allowed", kind, id, len(id), maxIDLen)
	}
	if id[0] == '.' {
		return fmt.Errorf("%s ID %q starts with '.'", kind, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._+=%-", c) >= 0
		if !ok {
			return fmt.Errorf("%s ID %q has the character %q; allowed are letters, digits and . _ - + = %%", kind, id, c)
		}
	}
	return nil
}

// taskIDFromManifestKey returns the task ID of a manifest key, or false.
func taskIDFromManifestKey(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, TasksPrefix)
	if !ok || strings.Contains(rest, "/") {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, ".json")
	if !ok || CheckID("task", id) != nil {
		return "", false
	}
	return id, true
}

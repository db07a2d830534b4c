package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	// The DuckDB driver registers "duckdb" with database/sql.
	_ "github.com/duckdb/duckdb-go/v2"
)

// RunDuckDB computes the job with DuckDB: one COPY (query) TO '<out>/<aggregation>.parquet'
// per aggregation, on an in-memory database limited to j.Threads threads.
func RunDuckDB(ctx context.Context, j *Job) error {
	if err := os.MkdirAll(j.OutDir, 0o755); err != nil {
		return err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return fmt.Errorf("open duckdb: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", j.Threads)); err != nil {
		return fmt.Errorf("duckdb: set threads: %w", err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("SET temp_directory = %s", quoteString(filepath.Join(j.OutDir, ".duckdb-tmp")))); err != nil {
		return fmt.Errorf("duckdb: set temp_directory: %w", err)
	}
	for i := range j.Aggregations {
		a := &j.Aggregations[i]
		q, err := AggregationSQL(j, a)
		if err != nil {
			return err
		}
		out := filepath.Join(j.OutDir, a.Name+".parquet")
		stmt := fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd)", q, quoteString(out))
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("duckdb: aggregation %s: %w\n%s", a.Name, err, q)
		}
	}
	return nil
}

// DuckDBVersion is the version of the linked DuckDB library.
func DuckDBVersion(ctx context.Context) (string, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "SELECT version()").Scan(&v); err != nil {
		return "", err
	}
	return v, nil
}

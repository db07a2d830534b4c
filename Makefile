# tally: tests and benchmarks. The benchmark harness is its own Go module (bench/),
# so the tool never links DuckDB; it installs Polars into bench/work/venv with pip.

.PHONY: test bench bench-short

# Unit and integration tests of the tool, then the benchmark harness in -short mode.
test:
	go test ./...
	cd bench && go test -count=1 -short ./...

# The full benchmark (W1-W4, 5 runs per engine; long: W4 alone reads 200M rows per run).
# Rewrites the generated part of docs/benchmarks.md.
bench:
	cd bench && go run ./cmd/tallybench -runs 5 -report ../docs/benchmarks.md

# Tiny workloads, every engine, output cross-check: proves the harness, times nothing.
bench-short:
	cd bench && go test -count=1 -short ./...

// Command tally recomputes predefined telemetry aggregations from raw Parquet
// segments in object storage, publishes them as rollup Parquet and Kafka records,
// and audits a streaming pipeline's output against that batch truth.
//
// This package only wires flags to the library packages; see docs/cli.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes (docs/cli.md).
const (
	exitOK          = 0   // success
	exitFindings    = 1   // audit: unexplained mismatches above --max-mismatches; status: missing/stale tasks
	exitError       = 2   // invalid input, configuration or a failed run
	exitInterrupted = 130 // SIGINT/SIGTERM: committed work is kept, rerun to resume
)

// exitCoder is an error that carries its own exit code.
type exitCoder interface{ ExitCode() int }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	code := exitCode(ctx, err) // before stop(), which cancels ctx
	stop()
	os.Exit(code)
}

func exitCode(ctx context.Context, err error) int {
	if err == nil {
		return exitOK
	}
	var ec exitCoder
	if errors.As(err, &ec) {
		if ec.ExitCode() != exitFindings {
			fmt.Fprintln(os.Stderr, "tally:", err)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(os.Stderr, "tally:", err)
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return exitError
}

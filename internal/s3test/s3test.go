// Package s3test starts an in-process S3 API server for tests, so that code paths
// that talk to S3 (ranged reads, delimiter listing, multipart writes) are exercised
// against a real S3 protocol implementation instead of a local directory.
//
// The server is gofakes3 with its in-memory backend, served by httptest on
// 127.0.0.1; it lives until the test ends.
package s3test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Region is the AWS region the returned URL names.
const Region = "us-east-1"

// Start starts an S3 API server on 127.0.0.1, creates bucket in it and returns the
// gocloud blob URL that reaches it:
//
//	s3://BUCKET?endpoint=http://127.0.0.1:PORT&use_path_style=true&region=us-east-1
//
// It sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION for the test (the
// server accepts any credentials, the SDK insists on some), so tests that call Start
// cannot run in parallel with t.Parallel. The server stops when the test ends.
func Start(t testing.TB, bucket string) string {
	t.Helper()
	backend := s3mem.New()
	faker := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog()))
	srv := httptest.NewServer(faker.Server())
	t.Cleanup(srv.Close)
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatalf("s3test: create bucket %q: %v", bucket, err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "tally-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "tally-test-secret")
	t.Setenv("AWS_REGION", Region)
	return fmt.Sprintf("s3://%s?endpoint=%s&use_path_style=true&region=%s", bucket, srv.URL, Region)
}

package reader

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob:// URLs
	_ "gocloud.dev/blob/fileblob"  // file:// URLs
	_ "gocloud.dev/blob/gcsblob"   // gs:// URLs
	_ "gocloud.dev/blob/memblob"   // mem:// URLs
	_ "gocloud.dev/blob/s3blob"    // s3:// URLs
)

// OpenBucket opens a gocloud.dev/blob URL: file://, mem://, s3://, gs:// or azblob://.
//
// For s3://, gs:// and azblob:// the URL's path becomes a key prefix
// (s3://lake/raw/telemetry reads keys under raw/telemetry/ of bucket lake), as a
// "prefix" query parameter would. S3-compatible stores take the endpoint=,
// use_path_style= and region= query parameters, e.g.
// s3://lake?endpoint=http://127.0.0.1:9000&use_path_style=true&region=us-east-1.
// For file:// the path is the directory (file:///data/lake, or file://./lake relative
// to the working directory).
func OpenBucket(ctx context.Context, rawURL string) (*blob.Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("open bucket %q: not a URL; write e.g. file:///data/lake, s3://bucket/prefix?region=us-east-1, gs://bucket, azblob://container", rawURL)
	}
	switch u.Scheme {
	case "s3", "gs", "azblob":
		if p := strings.Trim(u.Path, "/"); p != "" {
			q := u.Query()
			if q.Get("prefix") != "" {
				return nil, fmt.Errorf("open bucket %q: give the prefix either as the URL's path or as ?prefix=, not both", rawURL)
			}
			q.Set("prefix", p+"/")
			u.Path = ""
			u.RawPath = ""
			u.RawQuery = q.Encode()
		}
	case "file", "mem":
	default:
		return nil, fmt.Errorf("open bucket %q: unsupported scheme %q; supported: file, mem, s3, gs, azblob", rawURL, u.Scheme)
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("open bucket %q: %w", rawURL, err)
	}
	return b, nil
}

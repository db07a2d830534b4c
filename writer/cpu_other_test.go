//go:build !unix

package writer

import "time"

// cpuTime is unknown on this platform; benchmarks then report wall-clock rates only.
func cpuTime() time.Duration { return 0 }

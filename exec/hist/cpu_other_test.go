//go:build !unix

package hist

import "time"

// processCPU is not available here; benchmarks then report wall-clock rates only.
func processCPU() time.Duration { return 0 }

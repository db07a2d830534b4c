//go:build unix

package hist

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) used by the test process so far. On a
// shared machine it measures work independently of how long the process waited for a
// core.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

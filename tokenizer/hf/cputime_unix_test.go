//go:build unix

package hf

import (
	"syscall"
	"time"
)

// cpuTime is the user and system CPU time of the process, for benchmark figures that do
// not depend on how busy the machine is.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

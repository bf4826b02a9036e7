package lobby

import (
	"syscall"
	"time"
)

// rusageThread is RUSAGE_THREAD: the calling thread only.
const rusageThread = 1

// involuntarySwitches counts the times the kernel took the calling OS
// thread off its CPU for another (the caller locks its goroutine to the
// thread). A latency sample during which it moved was disturbed by other
// work on the machine, not by the code measured.
func involuntarySwitches() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return ru.Nivcsw
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

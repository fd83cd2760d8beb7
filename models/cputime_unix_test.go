//go:build unix

package models_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used (all threads, user and
// system). Unlike the wall clock it does not grow while other processes
// hold the CPU, so comparing two code paths by it stays fair on a busy
// machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

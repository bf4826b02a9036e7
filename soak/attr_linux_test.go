package soak

import "syscall"

// childAttr makes a child process die with the test process, even when a
// timeout panic skips the test's clean-up.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

//go:build !linux

package soak

import "syscall"

// childAttr: only Linux can tie a child's life to the test process; the
// test's clean-up kills the children elsewhere.
func childAttr() *syscall.SysProcAttr { return nil }

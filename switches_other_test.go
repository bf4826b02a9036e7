//go:build !linux

package lobby

// involuntarySwitches is unknown here: no sample counts as disturbed.
func involuntarySwitches() int64 { return 0 }

//go:build !linux

package lobby

import "time"

// involuntarySwitches is unknown here: no sample counts as disturbed.
func involuntarySwitches() int64 { return 0 }

// processCPU is unknown here.
func processCPU() time.Duration { return 0 }

//go:build race

package webkit

// raceEnabled: the race detector makes sync.Pool drop what it is given at
// random, so allocation counts do not hold.
const raceEnabled = true

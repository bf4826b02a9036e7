//go:build !race

package webkit

const raceEnabled = false

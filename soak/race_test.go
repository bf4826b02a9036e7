//go:build race

package soak

// raceEnabled: the children are built with the race detector too.
const raceEnabled = true

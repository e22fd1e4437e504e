//go:build !race

package dav

// raceEnabled is set when the tests run under the race detector.
const raceEnabled = false

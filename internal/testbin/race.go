//go:build race

package testbin

// raceEnabled is set when the tests are built with the race detector.
const raceEnabled = true

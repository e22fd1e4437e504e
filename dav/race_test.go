//go:build race

package dav

// raceEnabled is set when the tests run under the race detector, whose
// sync.Pool drops a random share of what is put back: allocation counts
// of pooled paths vary from run to run.
const raceEnabled = true

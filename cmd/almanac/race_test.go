//go:build race

package main

// raceEnabled is set when the tests run under the race detector, which
// multiplies the memory a process uses (its shadow memory is outside the
// Go heap).
const raceEnabled = true

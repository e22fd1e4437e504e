//go:build race

package bench

// raceEnabled is set when the tests run under the race detector: the smoke
// tests then build the server with it too, from the packages `go test
// -race` has compiled already.
const raceEnabled = true

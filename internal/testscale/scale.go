// Package testscale sizes the long tests: the randomized model runs, the
// crash runs and the durability loops. It reads one knob, the environment
// variable ALMANAC_TEST_SCALE, so that `make test` runs every such test
// short but whole (scale 1) and CI sets a larger scale once, in .ci/run,
// for every package and every child process a test starts.
//
// Only tests import this package.
package testscale

import (
	"os"
	"strconv"
	"testing"
)

// Env is the environment variable that holds the scale: a whole number
// from 1 to Max; unset or empty means 1.
const Env = "ALMANAC_TEST_SCALE"

// Max bounds the scale, so a typo does not start an hour-long run.
const Max = 100

// N returns n times the scale: how many steps, rounds or iterations a long
// test runs. It fails tb when ALMANAC_TEST_SCALE is not a whole number
// from 1 to Max.
func N(tb testing.TB, n int) int {
	tb.Helper()
	s, err := Scale()
	if err != nil {
		tb.Fatal(err)
	}
	return n * s
}

// Scale returns the scale ALMANAC_TEST_SCALE sets, 1 when it is unset or
// empty, or an error naming the variable when it is not a whole number
// from 1 to Max.
func Scale() (int, error) {
	v := os.Getenv(Env)
	if v == "" {
		return 1, nil
	}
	s, err := strconv.Atoi(v)
	if err != nil || s < 1 || s > Max {
		return 0, &Error{Value: v}
	}
	return s, nil
}

// Error reports a value of ALMANAC_TEST_SCALE that is not a whole number
// from 1 to Max.
type Error struct {
	Value string // the variable's value
}

func (e *Error) Error() string {
	return "testscale: " + Env + "=" + strconv.Quote(e.Value) + ": want a whole number from 1 to " + strconv.Itoa(Max)
}

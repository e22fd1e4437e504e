// Package testscale sizes the long tests: the randomized model runs, the
// crash runs and the durability loops. It reads one knob, the environment
// variable ALMANAC_TEST_SCALE, so that `make test` runs every such test
// short but whole (scale 1) and CI can set a larger scale once, in
// .ci/run, for every package and every child process a test starts. A
// test's own variable, ALMANAC_TEST_SCALE_<TopLevelTestName> (for
// example ALMANAC_TEST_SCALE_TestClusterKill9=2), overrides the knob for
// that test and its subtests alone, so CI can run one test longer
// without lengthening every other.
//
// Only tests import this package.
package testscale

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// Env is the environment variable that holds the scale: a whole number
// from 1 to Max; unset or empty means 1. Env + "_" + a top-level test's
// name holds that test's own scale.
const Env = "ALMANAC_TEST_SCALE"

// Max bounds the scale, so a typo does not start an hour-long run.
const Max = 100

// N returns n times tb's scale: how many steps, rounds or iterations a
// long test runs. The scale is the test's own variable's (Env + "_" + the
// top-level test's name) when that is set and not empty, otherwise Env's.
// It fails tb when the variable it reads is not a whole number from 1 to
// Max.
func N(tb testing.TB, n int) int {
	tb.Helper()
	s, err := ScaleOf(tb.Name())
	if err != nil {
		tb.Fatal(err)
	}
	return n * s
}

// Scale returns the scale ALMANAC_TEST_SCALE sets, 1 when it is unset or
// empty, or an error naming the variable when it is not a whole number
// from 1 to Max.
func Scale() (int, error) {
	return parse(Env, os.Getenv(Env))
}

// ScaleOf returns the scale of the test named name (a subtest's name,
// "TestX/case", counts as its top-level test's): that of
// ALMANAC_TEST_SCALE_<TopLevelTestName> when it is set and not empty,
// otherwise Scale's.
func ScaleOf(name string) (int, error) {
	top, _, _ := strings.Cut(name, "/")
	if top != "" {
		v := Env + "_" + top
		if s := os.Getenv(v); s != "" {
			return parse(v, s)
		}
	}
	return Scale()
}

// parse reads the value s of the variable v.
func parse(v, s string) (int, error) {
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > Max {
		return 0, &Error{Var: v, Value: s}
	}
	return n, nil
}

// Error reports a value of ALMANAC_TEST_SCALE, or of a test's own
// variable, that is not a whole number from 1 to Max.
type Error struct {
	Var   string // the variable: Env, or Env + "_" + a test's name
	Value string // the variable's value
}

func (e *Error) Error() string {
	return "testscale: " + e.Var + "=" + strconv.Quote(e.Value) + ": want a whole number from 1 to " + strconv.Itoa(Max)
}

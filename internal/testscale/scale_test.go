package testscale

import (
	"errors"
	"testing"
)

func TestScale(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want int
		bad  bool
	}{
		{env: "", want: 1},
		{env: "1", want: 1},
		{env: "4", want: 4},
		{env: "100", want: 100},
		{env: "0", bad: true},
		{env: "-2", bad: true},
		{env: "101", bad: true},
		{env: "2x", bad: true},
		{env: "1.5", bad: true},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(Env, tc.env)
			got, err := Scale()
			var e *Error
			switch {
			case tc.bad && !errors.As(err, &e):
				t.Fatalf("Scale() = %d, %v; want an *Error", got, err)
			case tc.bad && (e.Var != Env || e.Value != tc.env):
				t.Fatalf("Error = %s=%q, want %s=%q", e.Var, e.Value, Env, tc.env)
			case !tc.bad && (err != nil || got != tc.want):
				t.Fatalf("Scale() = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestScaleOf(t *testing.T) {
	const own = Env + "_TestLong"
	for _, tc := range []struct {
		name      string
		env, test string // Env's value, own's value
		other     string // another test's variable's value
		want      int
		badVar    string // the variable an *Error names
	}{
		{name: "TestLong", want: 1},
		{name: "TestLong", env: "2", want: 2},
		{name: "TestLong", env: "1", test: "2", want: 2},
		{name: "TestLong", test: "3", want: 3},
		{name: "TestLong/seed1", env: "1", test: "2", want: 2},
		{name: "TestLong", env: "2", test: "", want: 2},
		{name: "TestLongToo", env: "1", test: "2", want: 1},
		{name: "TestShort", env: "1", test: "2", want: 1},
		{name: "TestShort", env: "1", other: "5", want: 1},
		{name: "", env: "2", test: "3", want: 2},
		{name: "TestLong", env: "1", test: "0", badVar: own},
		{name: "TestLong", env: "x", test: "2", want: 2},
		{name: "TestShort", env: "x", test: "2", badVar: Env},
	} {
		t.Run(tc.name+"_"+tc.env+"_"+tc.test+"_"+tc.other, func(t *testing.T) {
			t.Setenv(Env, tc.env)
			t.Setenv(own, tc.test)
			t.Setenv(Env+"_TestOther", tc.other)
			got, err := ScaleOf(tc.name)
			var e *Error
			switch {
			case tc.badVar != "" && !errors.As(err, &e):
				t.Fatalf("ScaleOf(%q) = %d, %v; want an *Error", tc.name, got, err)
			case tc.badVar != "" && e.Var != tc.badVar:
				t.Fatalf("ScaleOf(%q): the error names %s, want %s", tc.name, e.Var, tc.badVar)
			case tc.badVar == "" && (err != nil || got != tc.want):
				t.Fatalf("ScaleOf(%q) = %d, %v; want %d", tc.name, got, err, tc.want)
			}
		})
	}
}

func TestN(t *testing.T) {
	t.Setenv(Env, "3")
	if got, want := N(t, 5), 15; got != want {
		t.Fatalf("N(5) = %d, want %d", got, want)
	}
	t.Setenv(Env+"_TestN", "2")
	t.Run("sub", func(t *testing.T) {
		if got, want := N(t, 5), 10; got != want {
			t.Fatalf("N(5) in a subtest with %s_TestN=2 = %d, want %d", Env, got, want)
		}
	})
}

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
			case tc.bad && e.Value != tc.env:
				t.Fatalf("Error.Value = %q, want %q", e.Value, tc.env)
			case !tc.bad && (err != nil || got != tc.want):
				t.Fatalf("Scale() = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestN(t *testing.T) {
	t.Setenv(Env, "3")
	if got, want := N(t, 5), 15; got != want {
		t.Fatalf("N(5) = %d, want %d", got, want)
	}
}

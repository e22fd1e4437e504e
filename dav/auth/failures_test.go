package auth

import "testing"

// TestFailures counts each failed login once under its reason, an unknown
// user and a wrong password under the same one, and successes not at all.
func TestFailures(t *testing.T) {
	v, _, _ := newLimitedVerifier(t, Options{}) // alice's pair locks after 3 failures
	mustLogin(t, v, "alice", "192.0.2.1")
	mustFail(t, v, "nobody", "secret", "192.0.2.1", ErrBadCredentials)
	mustFail(t, v, "alice", "wrong", "192.0.2.1", ErrBadCredentials)
	mustFail(t, v, "bob", "", "192.0.2.1", ErrBadCredentials)
	if got, want := v.Failures(), (Failures{BadCredentials: 2, EmptyPassword: 1}); got != want {
		t.Fatalf("Failures() = %+v, want %+v", got, want)
	}
	mustFail(t, v, "alice", "wrong", "192.0.2.1", ErrBadCredentials)
	mustFail(t, v, "alice", "wrong", "192.0.2.1", ErrBadCredentials)
	mustFail(t, v, "alice", "secret", "192.0.2.1", ErrRateLimited)
	mustLogin(t, v, "alice", "192.0.2.2")
	if got, want := v.Failures(), (Failures{BadCredentials: 4, EmptyPassword: 1, RateLimited: 1}); got != want {
		t.Errorf("Failures() = %+v, want %+v", got, want)
	}
}

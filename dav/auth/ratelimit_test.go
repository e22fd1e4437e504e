package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
)

const (
	attacker = "198.51.100.7"
	aliceIP  = "203.0.113.9"
)

// newLimitedVerifier returns a Verifier over alice, bob and admin (all with
// password "secret"), with MaxFailures 3 and MaxAddressFailures 6.
func newLimitedVerifier(t *testing.T, opts Options) (*Verifier, *testClock, *lockedBuffer) {
	t.Helper()
	db := MustOpenDB(t)
	h := MustHash(t, "secret")
	MustPutUser(t, db, "alice", h, "")
	MustPutUser(t, db, "bob", h, "")
	MustPutUser(t, db, "admin", h, engine.RoleAdmin)
	logs := &lockedBuffer{}
	opts.DB = db
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	if opts.MaxFailures == 0 {
		opts.MaxFailures = 3
	}
	if opts.MaxAddressFailures == 0 {
		opts.MaxAddressFailures = 6
	}
	opts.FailureWindow = time.Minute
	v, clock := newVerifier(t, opts)
	return v, clock, logs
}

func mustFail(t *testing.T, v *Verifier, user, pw, addr string, want error) {
	t.Helper()
	if _, err := v.Authenticate(context.Background(), user, pw, addr+":1234"); !errors.Is(err, want) {
		t.Fatalf("Authenticate(%s, %q, %s) = %v, want %v", user, pw, addr, err, want)
	}
}

func mustLogin(t *testing.T, v *Verifier, user, addr string) {
	t.Helper()
	if _, err := v.Authenticate(context.Background(), user, "secret", addr+":1234"); err != nil {
		t.Fatalf("Authenticate(%s, right password, %s) = %v", user, addr, err)
	}
}

// TestRateLimitPair: a pair is locked after MaxFailures, answered with a
// RateLimitError carrying the wait, without running a hash.
func TestRateLimitPair(t *testing.T) {
	v, clock, logs := newLimitedVerifier(t, Options{})
	for range 3 {
		mustFail(t, v, "alice", "guess", attacker, ErrBadCredentials)
	}
	hashed := 0
	onVerify = func(string) { hashed++ }
	defer func() { onVerify = nil }()
	_, err := v.Authenticate(context.Background(), "alice", "secret", attacker+":1")
	var rl *RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("locked pair, right password: err = %v, want a RateLimitError", err)
	}
	if got, want := rl.RetryAfter(), 60; got != want {
		t.Errorf("RetryAfter = %d, want %d", got, want)
	}
	if hashed != 0 {
		t.Errorf("a locked pair ran %d hashes, want 0", hashed)
	}
	onVerify = nil

	t.Run("UnlockedAfterWindow", func(t *testing.T) {
		clock.Advance(time.Minute + time.Second)
		mustLogin(t, v, "alice", attacker)
	})
	t.Run("SuccessResetsPair", func(t *testing.T) {
		for range 2 {
			mustFail(t, v, "alice", "typo", attacker, ErrBadCredentials)
		}
		mustLogin(t, v, "alice", attacker)
		for range 2 {
			mustFail(t, v, "alice", "typo", attacker, ErrBadCredentials)
		}
		mustLogin(t, v, "alice", attacker) // 4 failures in the window, but a success between
	})
	t.Run("Backoff", func(t *testing.T) {
		// The pair's second lockout, with no success between, lasts twice
		// as long.
		for range 2 {
			for range 3 {
				mustFail(t, v, "alice", "guess", attacker, ErrBadCredentials)
			}
			clock.Advance(time.Minute + time.Second)
		}
		mustFail(t, v, "alice", "secret", attacker, ErrRateLimited)
		clock.Advance(time.Minute)
		mustLogin(t, v, "alice", attacker)
	})
	t.Run("Fail2banLine", func(t *testing.T) {
		want := `level=WARN msg="authentication failed" remote=198.51.100.7 user=alice `
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	})
}

// TestRateLimitNoLockoutOfOthers is the finding: an attacker flooding wrong
// passwords for alice from one address locks out neither alice (from her
// address) nor bob and the admin from the attacker's own address.
func TestRateLimitNoLockoutOfOthers(t *testing.T) {
	v, _, _ := newLimitedVerifier(t, Options{})
	for range 50 { // far past both the pair's and the address's limit
		v.Authenticate(context.Background(), "alice", "guess", attacker+":1")
	}
	mustFail(t, v, "alice", "secret", attacker, ErrRateLimited) // the attacker's own pair
	mustLogin(t, v, "alice", aliceIP)
	mustLogin(t, v, "bob", attacker)
	mustLogin(t, v, "admin", attacker)
}

// TestRateLimitHotAddress: an address over MaxAddressFailures (spraying
// many user names) gets only 3 failures per pair, while a user of that
// address who has not failed still logs in.
func TestRateLimitHotAddress(t *testing.T) {
	v, clock, _ := newLimitedVerifier(t, Options{MaxFailures: 10})
	for i := range 6 {
		mustFail(t, v, fmt.Sprintf("user%d", i), "guess", attacker, ErrBadCredentials)
	}
	// The address is hot: alice's pair is locked after 3 failures, not 10.
	for range 3 {
		mustFail(t, v, "alice", "guess", attacker, ErrBadCredentials)
	}
	mustFail(t, v, "alice", "secret", attacker, ErrRateLimited)
	// bob, from the same (proxy) address, has not failed: verified.
	mustLogin(t, v, "bob", attacker)
	// A success does not cool the address: carol's third failure locks her.
	for range 3 {
		mustFail(t, v, "carol", "guess", attacker, ErrBadCredentials)
	}
	mustFail(t, v, "carol", "guess", attacker, ErrRateLimited)

	t.Run("Cold", func(t *testing.T) {
		// Another address is not hot: more than 3 failures per pair.
		for range 5 {
			mustFail(t, v, "bob", "typo", aliceIP, ErrBadCredentials)
		}
		mustLogin(t, v, "bob", aliceIP)
	})
	t.Run("CoolsDown", func(t *testing.T) {
		// The address went hot twice (its second time for 2 minutes).
		clock.Advance(3 * time.Minute)
		for range 5 {
			mustFail(t, v, "admin", "typo", attacker, ErrBadCredentials)
		}
		mustLogin(t, v, "admin", attacker)
	})
}

// TestRateLimitMemoryBound: the limiter tracks at most MaxTracked keys,
// forgetting the least recently failed. 40 failures of unknown users
// from 40 addresses (80 keys, eight times the bound): each runs the
// dummy hash, ~18 CPU-ms at bcrypt's minimum cost under -race.
func TestRateLimitMemoryBound(t *testing.T) {
	const maxTracked = 10
	v, _, _ := newLimitedVerifier(t, Options{MaxTracked: maxTracked})
	for i := range 4 * maxTracked {
		mustFail(t, v, fmt.Sprintf("u%d", i), "guess", fmt.Sprintf("192.0.2.%d", i), ErrBadCredentials)
	}
	if got := v.limits.len(); got > maxTracked {
		t.Errorf("limiter tracks %d keys, want at most %d", got, maxTracked)
	}
	// The most recent entries are kept: a fresh lockout still holds.
	for range 3 {
		mustFail(t, v, "alice", "guess", attacker, ErrBadCredentials)
	}
	mustFail(t, v, "alice", "secret", attacker, ErrRateLimited)
}

// TestRateLimitLongUserName: keys are hashed, so a huge user name costs
// the limiter no more than a short one.
func TestRateLimitLongUserName(t *testing.T) {
	l := newLimiter(3, 100, time.Minute, 10)
	now := time.Now()
	long := strings.Repeat("x", 1<<20)
	for range 3 {
		l.fail(long, attacker, now)
	}
	if l.blocked(long, attacker, now) == 0 {
		t.Errorf("long user name not locked")
	}
	if l.blocked(long+"y", attacker, now) != 0 {
		t.Errorf("another long user name locked")
	}
}

// TestRetryAfter: the Retry-After of a lockout and of a busy login is
// the wait rounded up to whole seconds, at least 1 (RetrySeconds).
func TestRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		wait time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {2500 * time.Millisecond, 3}, {15 * time.Minute, 900}} {
		if got := (&RateLimitError{Wait: tt.wait}).RetryAfter(); got != tt.want {
			t.Errorf("RetryAfter(%s) = %d, want %d", tt.wait, got, tt.want)
		}
		if got := (&BusyError{Slots: 1, Wait: tt.wait}).ServiceUnavailable(); got != tt.want {
			t.Errorf("BusyError{Wait: %s}.ServiceUnavailable() = %d, want %d", tt.wait, got, tt.want)
		}
	}
}

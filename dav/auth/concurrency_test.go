package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds, failing the test with what after a
// minute (a generous bound: it is a deadlock guard, not a timing).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(time.Minute); !cond(); runtime.Gosched() {
		if time.Now().After(end) {
			t.Fatalf("gave up after a minute waiting for %s", what)
		}
	}
}

// goroutinesIn counts the goroutines whose stack has fn ("auth.(*Verifier).acquire").
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), fn+"(")
}

// holdHashes makes every hash of h (all when h is "") block until the
// returned release is called, and counts them. entered receives one
// value per hash started.
func holdHashes(t *testing.T, h string) (hashes *atomic.Int32, entered chan struct{}, release func()) {
	hashes = new(atomic.Int32)
	entered = make(chan struct{}, 64)
	gate := make(chan struct{})
	onVerify = func(got string) {
		if h != "" && got != h {
			return
		}
		hashes.Add(1)
		entered <- struct{}{}
		<-gate
	}
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(func() { release(); onVerify = nil })
	return hashes, entered, release
}

// TestMaxConcurrentHashes: at most MaxConcurrentHashes passwords are
// hashed at once, so a flood of logins leaves CPU for other requests; a
// login whose request ends while it waits returns the context's error and
// counts as no failure.
func TestMaxConcurrentHashes(t *testing.T) {
	db := MustOpenDB(t)
	MustPutUser(t, db, "alice", MustHash(t, "secret"), "")
	v, _ := newVerifier(t, Options{DB: db, MaxConcurrentHashes: 2, MaxFailures: 1, HashWait: time.Hour})

	var running, peak atomic.Int32
	gate := make(chan struct{})
	entered := make(chan struct{}, 16)
	onVerify = func(string) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		entered <- struct{}{}
		<-gate
		running.Add(-1)
	}
	defer func() { onVerify = nil }()

	var wg sync.WaitGroup
	for i, user := range []string{"alice", "nobody", "alice", "nobody", "alice", "nobody"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := "192.0.2." + string(rune('1'+i))
			v.Authenticate(context.Background(), user, "guess"+addr, addr) // each its own password: no sharing
		}()
	}
	<-entered
	<-entered // two are hashing; the others wait for a slot

	// A waiting login whose client goes away gives up.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := v.Authenticate(ctx, "alice", "secret", "198.51.100.7")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled wait: err = %v, want context.Canceled", err)
	}
	close(gate)
	wg.Wait()
	if got := peak.Load(); got != 2 {
		t.Errorf("peak concurrent hashes %d, want 2", got)
	}
	onVerify = nil
	// The canceled attempt was no failure: with MaxFailures 1 the pair
	// would be locked otherwise.
	if _, err := v.Authenticate(context.Background(), "alice", "secret", "198.51.100.7"); err != nil {
		t.Errorf("after a canceled wait: %v", err)
	}
}

// TestHashWait: a login that gets no hashing slot within HashWait is
// refused with a *BusyError naming the limit, counted by Busy, and is no
// failed login: no limiter count, no fail2ban line.
func TestHashWait(t *testing.T) {
	db := MustOpenDB(t)
	MustPutUser(t, db, "alice", MustHash(t, "secret"), "")
	var log bytes.Buffer
	v, _ := newVerifier(t, Options{DB: db, MaxConcurrentHashes: 1, HashWait: 20 * time.Millisecond, MaxFailures: 1,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	_, entered, release := holdHashes(t, "")

	held := make(chan error, 1)
	go func() {
		_, err := v.Authenticate(context.Background(), "alice", "secret", "192.0.2.1")
		held <- err
	}()
	<-entered // the only slot is taken until release

	_, err := v.Authenticate(context.Background(), "alice", "other", "198.51.100.7")
	var be *BusyError
	if !errors.As(err, &be) || !errors.Is(err, ErrBusy) {
		t.Fatalf("err = %v, want a *BusyError matching ErrBusy", err)
	}
	if be.Slots != 1 || be.Wait != 20*time.Millisecond || be.Waiters != 0 {
		t.Errorf("BusyError = %+v, want Slots 1, Wait 20ms", *be)
	}
	if got, want := be.Limit(), "all 1 password-hashing slots stayed busy for 20ms"; !strings.Contains(got, want) {
		t.Errorf("Limit() = %q, want it to contain %q", got, want)
	}
	if got := be.ServiceUnavailable(); got != 1 {
		t.Errorf("ServiceUnavailable() = %d, want 1 (HashWait 20ms, rounded up)", got)
	}
	// An unknown user waits for the same slot for its dummy hash.
	if _, err := v.Authenticate(context.Background(), "nobody", "x", "198.51.100.8"); !errors.Is(err, ErrBusy) {
		t.Errorf("unknown user: err = %v, want ErrBusy", err)
	}
	if got := v.Busy(); got != 2 {
		t.Errorf("Busy() = %d, want 2", got)
	}
	release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	onVerify = nil
	if f := v.Failures(); f.BadCredentials != 0 || f.RateLimited != 0 {
		t.Errorf("Failures() = %+v, want none", f)
	}
	if strings.Contains(log.String(), "authentication failed") {
		t.Errorf("a refused wait was logged for fail2ban:\n%s", log.String())
	}
	// With MaxFailures 1 the pair would be locked had it counted.
	if _, err := v.Authenticate(context.Background(), "alice", "secret", "198.51.100.7"); err != nil {
		t.Errorf("after a refused wait: %v", err)
	}
}

// TestMaxHashWaiters: with MaxHashWaiters logins waiting for a slot, one
// more is refused at once, however long HashWait is.
func TestMaxHashWaiters(t *testing.T) {
	db := MustOpenDB(t)
	MustPutUser(t, db, "alice", MustHash(t, "secret"), "")
	v, _ := newVerifier(t, Options{DB: db, MaxConcurrentHashes: 1, MaxHashWaiters: 2, HashWait: time.Hour})
	_, entered, release := holdHashes(t, "")

	errs := make(chan error, 3)
	for i := range 3 {
		go func() {
			_, err := v.Authenticate(context.Background(), "alice", "secret"+string(rune('a'+i)), "192.0.2.1")
			errs <- err
		}()
		if i == 0 {
			<-entered // holds the slot
		}
	}
	waitFor(t, "two logins waiting for the slot", func() bool { return v.waiting.Load() == 2 })
	_, err := v.Authenticate(context.Background(), "alice", "secret", "192.0.2.2")
	var be *BusyError
	if !errors.As(err, &be) || be.Waiters != 2 || be.Slots != 1 {
		t.Fatalf("err = %v, want a *BusyError with Waiters 2", err)
	}
	if got, want := be.Limit(), "2 already wait for one of the 1 password-hashing slots"; !strings.Contains(got, want) {
		t.Errorf("Limit() = %q, want it to contain %q", got, want)
	}
	// Refused at once, it is still told to wait HashWait: the queue it
	// found takes that long to drain.
	if got := be.ServiceUnavailable(); got != 3600 {
		t.Errorf("ServiceUnavailable() = %d, want 3600 (HashWait 1h)", got)
	}
	release()
	for range 3 {
		if err := <-errs; !errors.Is(err, ErrBadCredentials) {
			t.Errorf("a waiting login: err = %v, want ErrBadCredentials", err)
		}
	}
}

// TestConcurrentLoginsHashOnce: identical logins (user, password, stored
// hash) arriving while one verifies them wait for its answer instead of
// hashing again, even with free slots: a DAV client's parallel requests
// after the cache entry expired (a restarted cluster node under sixteen
// clients took minutes of queued hashes to answer a GET). A mismatch is
// shared too, and each sharer counts as a failure of its own.
func TestConcurrentLoginsHashOnce(t *testing.T) {
	for _, tc := range []struct {
		name, user, password string
		want                 error
	}{
		{"Match", "alice", "secret", nil},
		{"Mismatch", "alice", "wrong", ErrBadCredentials},
		{"UnknownUser", "nobody", "secret", ErrBadCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := MustOpenDB(t)
			MustPutUser(t, db, "alice", MustHash(t, "secret"), "")
			v, _ := newVerifier(t, Options{DB: db, MaxConcurrentHashes: 8, MaxFailures: 100, HashWait: time.Hour})
			hashes, entered, release := holdHashes(t, "")

			const logins = 6
			errs := make(chan error, logins)
			for range logins {
				go func() {
					_, err := v.Authenticate(context.Background(), tc.user, tc.password, "192.0.2.1")
					errs <- err
				}()
			}
			<-entered
			waitFor(t, "the other logins waiting for the first's answer", func() bool {
				return goroutinesIn("auth.(*Verifier).await") == logins-1
			})
			release()
			for range logins {
				if err := <-errs; !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
					t.Errorf("err = %v, want %v", err, tc.want)
				}
			}
			if got := hashes.Load(); got != 1 {
				t.Errorf("%d hashes for %d concurrent identical logins, want 1", got, logins)
			}
			if tc.want != nil {
				if got := v.Failures().BadCredentials; got != logins {
					t.Errorf("BadCredentials = %d, want %d: each login counts", got, logins)
				}
			}
		})
	}
}

// TestSharedLoginBounds: a login waiting for the same login's answer
// honours HashWait and its context; when the one verifying gives up
// (its client left), a waiter verifies itself rather than taking that
// as an answer.
func TestSharedLoginBounds(t *testing.T) {
	db := MustOpenDB(t)
	aliceHash := MustHash(t, "secret")
	MustPutUser(t, db, "alice", aliceHash, "")
	MustPutUser(t, db, "bob", MustHash(t, "bob-secret"), "")

	t.Run("HashWait", func(t *testing.T) {
		v, _ := newVerifier(t, Options{DB: db, MaxConcurrentHashes: 2, HashWait: 20 * time.Millisecond})
		_, entered, release := holdHashes(t, "")
		first := make(chan error, 1)
		go func() {
			_, err := v.Authenticate(context.Background(), "alice", "secret", "192.0.2.1")
			first <- err
		}()
		<-entered // verifying, held until release
		if _, err := v.Authenticate(context.Background(), "alice", "secret", "192.0.2.2"); !errors.Is(err, ErrBusy) {
			t.Errorf("waiter: err = %v, want ErrBusy", err)
		}
		release()
		if err := <-first; err != nil {
			t.Errorf("first: %v", err)
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		v, _ := newVerifier(t, Options{DB: db, MaxConcurrentHashes: 2, HashWait: time.Hour})
		_, entered, release := holdHashes(t, "")
		first := make(chan error, 1)
		go func() {
			_, err := v.Authenticate(context.Background(), "alice", "secret", "192.0.2.1")
			first <- err
		}()
		<-entered
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := v.Authenticate(ctx, "alice", "secret", "192.0.2.2"); !errors.Is(err, context.Canceled) {
			t.Errorf("waiter: err = %v, want context.Canceled", err)
		}
		release()
		if err := <-first; err != nil {
			t.Errorf("first: %v", err)
		}
	})

	t.Run("LeaderGivesUp", func(t *testing.T) {
		v, _ := newVerifier(t, Options{DB: db, MaxConcurrentHashes: 1, HashWait: time.Hour})
		hashes, entered, release := holdHashes(t, "")
		bob := make(chan error, 1)
		go func() { // holds the only slot
			_, err := v.Authenticate(context.Background(), "bob", "bob-secret", "192.0.2.9")
			bob <- err
		}()
		<-entered
		ctx, cancel := context.WithCancel(context.Background())
		leader := make(chan error, 1)
		go func() {
			_, err := v.Authenticate(ctx, "alice", "secret", "192.0.2.1")
			leader <- err
		}()
		waitFor(t, "alice's first login waiting for the slot", func() bool { return v.waiting.Load() == 1 })
		follower := make(chan error, 1)
		go func() {
			_, err := v.Authenticate(context.Background(), "alice", "secret", "192.0.2.2")
			follower <- err
		}()
		waitFor(t, "alice's second login waiting for the first's answer", func() bool {
			return goroutinesIn("auth.(*Verifier).await") == 1
		})
		cancel()
		if err := <-leader; !errors.Is(err, context.Canceled) {
			t.Errorf("leader: err = %v, want context.Canceled", err)
		}
		waitFor(t, "alice's second login waiting for the slot itself", func() bool { return v.waiting.Load() == 1 })
		release()
		if err := <-follower; err != nil {
			t.Errorf("follower after its leader gave up: %v", err)
		}
		if err := <-bob; err != nil {
			t.Errorf("bob: %v", err)
		}
		if got := hashes.Load(); got != 2 {
			t.Errorf("%d hashes, want 2 (bob's, and alice's by the follower)", got)
		}
	})
}

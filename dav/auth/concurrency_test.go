package auth

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestMaxConcurrentHashes: at most MaxConcurrentHashes passwords are
// hashed at once, so a flood of logins leaves CPU for other requests; a
// login whose request ends while it waits returns the context's error and
// counts as no failure.
func TestMaxConcurrentHashes(t *testing.T) {
	db := MustOpenDB(t)
	MustPutUser(t, db, "alice", MustHash(t, "secret"), "")
	v, _ := newVerifier(t, Options{DB: db, MaxConcurrentHashes: 2, MaxFailures: 1})

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
			v.Authenticate(context.Background(), user, "guess", addr)
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

// TestConcurrentLoginsHashOnce: logins with the same password that wait
// for a hashing slot while one verifies it take the cached success
// instead of hashing it again each in turn (a DAV client's parallel
// requests after the cache entry expired; a restarted cluster node under
// sixteen clients took minutes of queued hashes to answer a GET).
func TestConcurrentLoginsHashOnce(t *testing.T) {
	db := MustOpenDB(t)
	MustPutUser(t, db, "alice", MustHash(t, "secret"), "")
	v, _ := newVerifier(t, Options{DB: db, MaxConcurrentHashes: 1})

	var hashes atomic.Int32
	gate := make(chan struct{})
	onVerify = func(string) {
		if hashes.Add(1) == 1 {
			<-gate
		}
	}
	defer func() { onVerify = nil }()

	const logins = 6
	errs := make(chan error, logins)
	for range logins {
		go func() {
			_, err := v.Authenticate(context.Background(), "alice", "secret", "192.0.2.1")
			errs <- err
		}()
	}
	// One hashes; the others wait for its slot, past the cache they
	// looked in before it was filled.
	for waiting := 0; waiting < logins-1; {
		buf := make([]byte, 1<<20)
		waiting = strings.Count(string(buf[:runtime.Stack(buf, true)]), "auth.(*Verifier).acquire(")
		runtime.Gosched()
	}
	close(gate)
	for range logins {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := hashes.Load(); got != 1 {
		t.Errorf("%d hashes for %d concurrent logins with one password, want 1", got, logins)
	}
}

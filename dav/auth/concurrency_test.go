package auth

import (
	"context"
	"errors"
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

package auth

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/almanac/almanac/internal/logbound"
)

// flight is a verification under way, which logins of the same user,
// password and stored hash wait for instead of hashing again.
type flight struct {
	done chan struct{} // closed when ok and settled are set
	// settled: the leader verified the password, and ok is the answer.
	// Otherwise it gave up (its request ended, or no slot in time) and
	// each waiter tries again itself: a leader's failure to verify is
	// never taken as an answer, least of all as a success.
	settled, ok bool
}

// verifyOnce reports whether password matches hash, verified in one of
// the MaxConcurrentHashes slots; cacheable logins are answered from the
// cache, and successes added to it before the slot is given back.
//
// A login arriving while another verifies the same user, password and
// hash (a DAV client's parallel requests, once its cache entry expired
// or after a restart) waits for that one's answer instead of hashing
// again: a match or a mismatch alike, since either would be the same.
// The dummy verification of an unknown user shares (cacheable false) as
// a real one does, so that concurrent logins cost the same for both.
//
// Errors: a *BusyError when no slot came free within HashWait (counting
// from the call, across every wait), or MaxHashWaiters logins already
// waited; ctx's error when it ended first.
func (v *Verifier) verifyOnce(ctx context.Context, user, password, hash string, cacheable bool) (bool, error) {
	d := v.cache.digest(user, password, hash)
	if cacheable && v.cache.hit(d, v.opts.Clock()) {
		return true, nil
	}
	deadline := time.Now().Add(v.opts.HashWait)
	for {
		v.flightsMu.Lock()
		// Looked up under flightsMu: a leader adds its success to the
		// cache before it removes its flight, so a login finds one or
		// the other.
		if cacheable && v.cache.hit(d, v.opts.Clock()) {
			v.flightsMu.Unlock()
			return true, nil
		}
		f, follow := v.flights[d]
		if !follow {
			f = &flight{done: make(chan struct{})}
			v.flights[d] = f
		}
		v.flightsMu.Unlock()
		if !follow {
			return v.lead(ctx, f, d, hash, password, user, cacheable, deadline)
		}
		if err := v.await(ctx, f.done, deadline); err != nil {
			return false, err
		}
		if f.settled {
			return f.ok, nil
		}
	}
}

// lead verifies password for the logins waiting on f, then settles f.
func (v *Verifier) lead(ctx context.Context, f *flight, d [32]byte, hash, password, user string, cacheable bool, deadline time.Time) (bool, error) {
	ok, err := v.verifyInSlot(ctx, d, hash, password, user, cacheable, deadline)
	v.flightsMu.Lock()
	delete(v.flights, d)
	v.flightsMu.Unlock()
	f.settled, f.ok = err == nil, ok
	close(f.done)
	return ok, err
}

// verifyInSlot waits for a hashing slot and verifies password in it.
func (v *Verifier) verifyInSlot(ctx context.Context, d [32]byte, hash, password, user string, cacheable bool, deadline time.Time) (bool, error) {
	if err := v.acquire(ctx, deadline); err != nil {
		return false, err
	}
	defer v.release()
	ok, err := verifyHash(hash, password)
	if err != nil {
		// One budget for all: the user is the client's text.
		v.hashLog.Log(ctx, "", slog.String("user", logbound.Cut(user)), slog.String("err", err.Error()))
		_, _ = verifyHash(dummyHash(v.hashClasses()), password) // as for an unknown user
	}
	if ok && cacheable {
		// Cached before the slot is given back and the flight removed,
		// so that a login arriving now finds the success instead of
		// hashing again.
		v.cache.add(d, v.opts.Clock())
	}
	return ok, nil
}

// acquire takes one of the MaxConcurrentHashes slots for verifying a
// password, waiting until deadline for one to be free, if fewer than
// MaxHashWaiters logins wait already. release gives the slot back.
//
// Errors: a *BusyError, or ctx's error when ctx ends first.
func (v *Verifier) acquire(ctx context.Context, deadline time.Time) error {
	select {
	case v.hashing <- struct{}{}:
		return nil
	default:
	}
	if int(v.waiting.Add(1)) > v.opts.MaxHashWaiters {
		v.waiting.Add(-1)
		v.busy.Add(1)
		return &BusyError{Slots: cap(v.hashing), Wait: v.opts.HashWait, Waiters: v.opts.MaxHashWaiters}
	}
	defer v.waiting.Add(-1)
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case v.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: waiting to verify a password: %w", ctx.Err())
	case <-t.C:
		v.busy.Add(1)
		return &BusyError{Slots: cap(v.hashing), Wait: v.opts.HashWait}
	}
}

func (v *Verifier) release() { <-v.hashing }

// await waits until done is closed, deadline passes (a *BusyError) or
// ctx ends (its error).
func (v *Verifier) await(ctx context.Context, done <-chan struct{}, deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: waiting for the same login's verification: %w", ctx.Err())
	case <-t.C:
		v.busy.Add(1)
		return &BusyError{Slots: cap(v.hashing), Wait: v.opts.HashWait}
	}
}

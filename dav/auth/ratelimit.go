package auth

import (
	"sync"
	"time"
)

// maxLockout caps the doubling lockout.
const maxLockout = 15 * time.Minute

// forgetAfter is how long after its last failure an entry is forgotten,
// strikes included.
const forgetAfter = time.Hour

// limiter counts failed attempts per key (a user name or a remote address).
// After max failures within window the key is locked out for window, then
// 2×window, 4×window... up to maxLockout.
type limiter struct {
	max    int
	window time.Duration

	mu      sync.Mutex
	entries map[string]*failures
}

type failures struct {
	count    int       // failures in the current window
	first    time.Time // start of the current window
	last     time.Time // last failure
	strikes  int       // lockouts so far
	lockedTo time.Time // locked out until
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, entries: map[string]*failures{}}
}

// blocked returns how long key stays locked out (0: not locked).
func (l *limiter) blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.entries[key]
	if f == nil || !now.Before(f.lockedTo) {
		return 0
	}
	return f.lockedTo.Sub(now)
}

// fail records a failed attempt of key.
func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.entries[key]
	if f == nil || now.Sub(f.last) > forgetAfter {
		if len(l.entries) >= maxCacheEntries {
			l.sweepLocked(now)
		}
		f = &failures{first: now}
		l.entries[key] = f
	}
	if now.Sub(f.first) > l.window {
		f.count, f.first = 0, now
	}
	f.count++
	f.last = now
	if f.count >= l.max {
		lock := l.window << min(f.strikes, 10)
		f.strikes++
		f.lockedTo = now.Add(min(lock, maxLockout))
		f.count, f.first = 0, now
	}
}

// reset forgets key's failures (after a successful login of the user).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}

func (l *limiter) sweepLocked(now time.Time) {
	for k, f := range l.entries {
		if now.Sub(f.last) > forgetAfter || (now.Sub(f.first) > l.window && !now.Before(f.lockedTo)) {
			delete(l.entries, k)
		}
	}
}

package auth

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// The login limiter. Its rules, and why:
//
//   - Failures are counted per (user, address) pair. When a pair reaches
//     its limit (Options.MaxFailures in Options.FailureWindow) the pair is
//     locked for one window, then 2×, 4×... up to maxLockout; a locked pair
//     is answered 429 without running a hash. An attacker guessing alice's
//     password from one address gets MaxFailures guesses per window, then
//     exponentially fewer; alice from her own address, and bob and the
//     admin from the attacker's address, are unaffected, because their own
//     pairs have not failed.
//   - Failures are also counted per address, across users
//     (Options.MaxAddressFailures). An address over its limit is "hot" for
//     a window (doubling like a pair): while it is hot, each pair from it
//     is locked after hotPairFailures failures of its own instead of
//     MaxFailures. So one address spraying many user names gets a few
//     guesses per name, while the correct password of a user whose own
//     pair has not failed is still verified: behind a reverse proxy, where
//     one address is everyone, an attack never locks out other users.
//   - Only failures count; a success forgets its pair (not the address, so
//     an attacker who owns one account cannot clear the address's count).
//   - There is no per-user limit across addresses: it would let anyone lock
//     a user out. Guessing from many addresses is bounded per address;
//     against that use strong passwords and fail2ban on the failure log.
//   - At most maxKeys pairs and addresses are tracked (Options.MaxTracked);
//     past that the least recently failed entry is forgotten. Each entry
//     takes about 250 bytes, and filling the table takes that many failed
//     verifications, each costing a password hash.

// maxLockout caps the doubling lockout.
const maxLockout = 15 * time.Minute

// forgetAfter is how long after its last failure an entry is forgotten,
// strikes included.
const forgetAfter = time.Hour

// hotPairFailures is the failures a pair may make from a hot address (one
// over its own limit) before the pair is locked.
const hotPairFailures = 3

// limiter counts failed logins per (user, address) pair and per address.
// It is safe for concurrent use.
type limiter struct {
	pairMax, addrMax int
	window           time.Duration
	maxKeys          int

	mu      sync.Mutex
	entries map[limitKey]*list.Element // Value: *failures
	lru     list.List                  // front: most recent failure
}

// limitKey is a SHA-256 of the key's kind and fields, so that every entry
// has the same small size whatever the user name's length.
type limitKey [sha256.Size]byte

func pairKey(user, addr string) limitKey { return hashKey('p', user, addr) }
func addrKey(addr string) limitKey       { return hashKey('a', addr) }

func hashKey(kind byte, fields ...string) limitKey {
	h := sha256.New()
	h.Write([]byte{kind})
	for _, f := range fields {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	var k limitKey
	h.Sum(k[:0])
	return k
}

type failures struct {
	key      limitKey
	count    int       // failures in the current window
	first    time.Time // start of the current window
	last     time.Time // last failure
	strikes  int       // lockouts so far
	lockedTo time.Time // locked (pair) or hot (address) until
}

func newLimiter(pairMax, addrMax int, window time.Duration, maxKeys int) *limiter {
	return &limiter{pairMax: pairMax, addrMax: addrMax, window: window, maxKeys: maxKeys,
		entries: map[limitKey]*list.Element{}}
}

// blocked returns how long the pair (user, addr) stays locked (0: not
// locked). Only the pair's own lock counts: an address's failures never
// refuse a pair that has not failed itself.
func (l *limiter) blocked(user, addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.getLocked(pairKey(user, addr), now)
	if f == nil || !now.Before(f.lockedTo) {
		return 0
	}
	return f.lockedTo.Sub(now)
}

// fail records a failed login of user from addr.
func (l *limiter) fail(user, addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.recordLocked(addrKey(addr), now)
	if a.count >= l.addrMax {
		l.lockLocked(a, now)
	}
	p := l.recordLocked(pairKey(user, addr), now)
	limit := l.pairMax
	if now.Before(a.lockedTo) {
		limit = min(limit, hotPairFailures)
	}
	if p.count >= limit {
		l.lockLocked(p, now)
	}
}

// succeed forgets the failures of the pair (user, addr) after a correct
// password. The address keeps its count.
func (l *limiter) succeed(user, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[pairKey(user, addr)]; ok {
		l.lru.Remove(e)
		delete(l.entries, pairKey(user, addr))
	}
}

// getLocked returns k's entry, or nil when there is none or it is stale.
func (l *limiter) getLocked(k limitKey, now time.Time) *failures {
	e, ok := l.entries[k]
	if !ok {
		return nil
	}
	f := e.Value.(*failures)
	if now.Sub(f.last) > forgetAfter && !now.Before(f.lockedTo) {
		l.lru.Remove(e)
		delete(l.entries, k)
		return nil
	}
	return f
}

// recordLocked counts one failure of k and makes it the most recent entry,
// forgetting the least recent one when the table is full.
func (l *limiter) recordLocked(k limitKey, now time.Time) *failures {
	f := l.getLocked(k, now)
	if f == nil {
		for len(l.entries) >= l.maxKeys {
			oldest := l.lru.Back()
			l.lru.Remove(oldest)
			delete(l.entries, oldest.Value.(*failures).key)
		}
		f = &failures{key: k, first: now}
		l.entries[k] = l.lru.PushFront(f)
	} else {
		l.lru.MoveToFront(l.entries[k])
	}
	if now.Sub(f.first) > l.window {
		f.count, f.first = 0, now
	}
	f.count++
	f.last = now
	return f
}

// lockLocked locks f for window << strikes (at most maxLockout) and starts
// a new count.
func (l *limiter) lockLocked(f *failures, now time.Time) {
	lock := l.window << min(f.strikes, 10)
	f.strikes++
	f.lockedTo = now.Add(min(lock, maxLockout))
	f.count, f.first = 0, now
}

// len returns the number of entries tracked.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

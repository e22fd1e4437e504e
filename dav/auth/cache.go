package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// maxCacheEntries bounds the verification cache; when it is full, expired
// entries are dropped, and if none are, the whole cache is.
const maxCacheEntries = 10000

// verifyCache remembers successful verifications until they expire. It
// stores only keyed digests, never passwords or hashes.
type verifyCache struct {
	key [32]byte // per-process HMAC key
	ttl time.Duration

	mu      sync.Mutex
	entries map[[32]byte]time.Time // digest -> expiry
}

func newVerifyCache(ttl time.Duration) *verifyCache {
	c := &verifyCache{ttl: ttl, entries: map[[32]byte]time.Time{}}
	rand.Read(c.key[:]) // never fails (crypto/rand, Go 1.24+)
	return c
}

// digest is HMAC-SHA256(key, user, password, hash), each field
// length-prefixed so that no two tuples collide.
func (c *verifyCache) digest(user, password, hash string) [32]byte {
	m := hmac.New(sha256.New, c.key[:])
	for _, s := range []string{user, password, hash} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		m.Write(n[:])
		m.Write([]byte(s))
	}
	var d [32]byte
	copy(d[:], m.Sum(nil))
	return d
}

// hit reports whether the tuple was verified less than ttl ago.
func (c *verifyCache) hit(d [32]byte, now time.Time) bool {
	if c.ttl <= 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.entries[d]
	if ok && now.After(exp) {
		delete(c.entries, d)
		return false
	}
	return ok
}

// add records a successful verification.
func (c *verifyCache) add(d [32]byte, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCacheEntries {
		for k, exp := range c.entries {
			if now.After(exp) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCacheEntries {
			clear(c.entries)
		}
	}
	c.entries[d] = now.Add(c.ttl)
}

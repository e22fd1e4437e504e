package engine

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
)

// metaSecret is the meta key of the store secret: 32 random bytes made
// when the store is created (or first opened by a version that has it),
// never in the log, so a rebuild keeps it and an export does not carry it.
const metaSecret = "secret"

// loadSecret reads the store secret, creating it when missing.
func loadSecret(pdb *pebble.DB) ([]byte, error) {
	s, err := getCopy(pdb, keys.MetaKey(metaSecret))
	if err == nil && len(s) == 32 {
		return s, nil
	}
	if err != nil && !errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("engine: read store secret: %w", err)
	}
	s = make([]byte, 32)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("engine: store secret: %w", err)
	}
	if err := pdb.Set(keys.MetaKey(metaSecret), s, pebble.Sync); err != nil {
		return nil, fmt.Errorf("engine: write store secret: %w", err)
	}
	return s, nil
}

// Secret returns a 32-byte key for purpose derived from the store secret
// (HMAC-SHA256 of purpose): a component that must sign or encrypt
// something (the NATS publisher signs its messages) gets its own key that
// stays the same across restarts and rebuilds.
func (db *DB) Secret(purpose string) []byte {
	mac := hmac.New(sha256.New, db.secret)
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}

// sealer encrypts two 64-bit numbers into one AES block: an ETag or a
// sync token that names a log position without showing it. AES is a
// permutation, so distinct inputs give distinct outputs, and the store's
// key makes them opaque to clients (who could otherwise count everyone's
// writes).
type sealer struct{ b cipher.Block }

func newSealer(key []byte) sealer {
	b, err := aes.NewCipher(key[:16])
	if err != nil {
		panic(err) // a 16-byte key never fails
	}
	return sealer{b}
}

// seal returns the 32 hex digits of the encrypted (a, b).
func (s sealer) seal(a, b uint64) string {
	var blk [16]byte
	binary.BigEndian.PutUint64(blk[:8], a)
	binary.BigEndian.PutUint64(blk[8:], b)
	s.b.Encrypt(blk[:], blk[:])
	return hex.EncodeToString(blk[:])
}

// open reverses seal; ok is false for anything seal did not make (of this
// length and alphabet every string decrypts, so callers check the result).
func (s sealer) open(x string) (a, b uint64, ok bool) {
	if len(x) != 32 {
		return 0, 0, false
	}
	var blk [16]byte
	if _, err := hex.Decode(blk[:], []byte(x)); err != nil {
		return 0, 0, false
	}
	s.b.Decrypt(blk[:], blk[:])
	return binary.BigEndian.Uint64(blk[:8]), binary.BigEndian.Uint64(blk[8:]), true
}

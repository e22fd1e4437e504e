package feed

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/almanac/almanac/engine"
)

// NewToken makes an API token: the record to store in engine.User.Tokens
// (only a SHA-256 of the secret) and the token to hand to the user once,
// "<id>.<secret>". It is presented as "authorization: Bearer <token>".
func NewToken(label string, now time.Time) (engine.APIToken, string, error) {
	var id [8]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return engine.APIToken{}, "", fmt.Errorf("feed: token id: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return engine.APIToken{}, "", fmt.Errorf("feed: token secret: %w", err)
	}
	t := engine.APIToken{
		ID:           hex.EncodeToString(id[:]),
		SecretSHA256: hashSecret(base64.RawURLEncoding.EncodeToString(secret[:])),
		Label:        label,
		Created:      now.UTC(),
	}
	return t, t.ID + "." + base64.RawURLEncoding.EncodeToString(secret[:]), nil
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// splitToken splits "<id>.<secret>".
func splitToken(tok string) (id, secret string, ok bool) {
	id, secret, ok = strings.Cut(tok, ".")
	return id, secret, ok && id != "" && secret != ""
}

// checkToken reports whether u holds a token with id whose secret is
// secret. The comparison of hashes takes constant time.
func checkToken(u *engine.User, id, secret string) bool {
	want := hashSecret(secret)
	for _, t := range u.Tokens {
		if t.ID == id && subtle.ConstantTimeCompare([]byte(t.SecretSHA256), []byte(want)) == 1 {
			return true
		}
	}
	return false
}

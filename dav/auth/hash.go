package auth

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	htpasswd "github.com/tg123/go-htpasswd"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// BcryptCost is the bcrypt cost HashPassword uses.
const BcryptCost = 10

// HashPassword returns the bcrypt hash of password, as stored in
// engine.User.PasswordHash.
func HashPassword(password string) (string, error) {
	if len(password) > 72 {
		return "", fmt.Errorf("auth: hash password: longer than bcrypt's 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return string(h), nil
}

// dummyHash is verified against when a user does not exist, so that an
// unknown user costs as much time as a wrong password.
var dummyHash = mustHash("almanac-dummy-password")

func mustHash(pw string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), BcryptCost)
	if err != nil {
		panic(err)
	}
	return string(h)
}

// htpasswdParsers are the formats accepted from an htpasswd file beyond
// bcrypt and argon2id. AcceptPlain is left out on purpose: with it, any
// unrecognised entry would be taken as a plain-text password (STACK.md §8).
var htpasswdParsers = []htpasswd.PasswdParser{
	htpasswd.AcceptMd5, htpasswd.AcceptSha, htpasswd.AcceptSsha, htpasswd.AcceptCryptSha,
}

// verifyHash reports whether password matches the stored hash. It returns
// ErrUnknownHashFormat for a hash it cannot interpret, which never matches.
func verifyHash(hash, password string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		if err == nil {
			return true, nil
		}
		if err == bcrypt.ErrMismatchedHashAndPassword {
			return false, nil
		}
		return false, fmt.Errorf("auth: bcrypt hash: %w", err)
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon2id(hash, password)
	}
	for _, parse := range htpasswdParsers {
		enc, err := parse(hash)
		if err != nil {
			return false, fmt.Errorf("auth: malformed hash: %w", err)
		}
		if enc != nil {
			return enc.MatchesPassword(password), nil
		}
	}
	return false, ErrUnknownHashFormat
}

// Limits on argon2id parameters, so that a hostile hash cannot make one
// verification take unbounded memory or time.
const (
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
	maxArgonTime      = 16
	maxArgonThreads   = 64
)

// verifyArgon2id checks a PHC-format hash:
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<key>, salt and key in unpadded
// standard base64.
func verifyArgon2id(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, fmt.Errorf("auth: argon2id hash: want 5 fields: %w", ErrUnknownHashFormat)
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("auth: argon2id hash: unsupported version %q: %w", parts[2], ErrUnknownHashFormat)
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, fmt.Errorf("auth: argon2id hash: parameters %q: %w", parts[3], ErrUnknownHashFormat)
	}
	if m == 0 || m > maxArgonMemoryKiB || t == 0 || t > maxArgonTime || p == 0 || p > maxArgonThreads {
		return false, fmt.Errorf("auth: argon2id hash: parameters %q out of range: %w", parts[3], ErrUnknownHashFormat)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("auth: argon2id hash: salt: %w", err)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) == 0 || len(key) > 1024 {
		return false, fmt.Errorf("auth: argon2id hash: key: %w", ErrUnknownHashFormat)
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

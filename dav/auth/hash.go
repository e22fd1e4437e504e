package auth

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

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

// dummyCost is the bcrypt cost of defaultDummyHash; tests lower it.
var dummyCost = BcryptCost

// defaultDummyHash is verified against when a user does not exist and no
// account exists either to copy the cost of: a bcrypt hash at the cost
// HashPassword uses. It is made on first use, not at start-up of every
// command.
var defaultDummyHash = sync.OnceValue(func() string {
	h, err := bcrypt.GenerateFromPassword([]byte("almanac-dummy-password"), dummyCost)
	if err != nil {
		panic(fmt.Sprintf("auth: dummy hash: %v", err)) // only for a cost out of range
	}
	return string(h)
})

// maxBcryptPassword is the longest password bcrypt reads; it ignores the
// bytes after it, so a longer password would match on its first 72 bytes.
const maxBcryptPassword = 72

// hashClass names the algorithm and cost parameters of hash: two hashes
// of one class cost the same to verify. It is "" for a hash in no known
// format.
func hashClass(hash string) string {
	switch {
	case isBcrypt(hash):
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return ""
		}
		return fmt.Sprintf("bcrypt cost=%d", cost)
	case strings.HasPrefix(hash, "$argon2id$"):
		h, err := parseArgon2id(hash)
		if err != nil {
			return ""
		}
		return fmt.Sprintf("argon2id m=%d,t=%d,p=%d,len=%d", h.memory, h.time, h.threads, len(h.key))
	case strings.HasPrefix(hash, "$apr1$"):
		return "apr1"
	case strings.HasPrefix(hash, "{SHA}"):
		return "sha"
	case strings.HasPrefix(hash, "{SSHA}"):
		return "ssha"
	case strings.HasPrefix(hash, "$5$"), strings.HasPrefix(hash, "$6$"):
		rounds := "rounds=5000" // crypt(3)'s default
		if r, _, ok := strings.Cut(hash[3:], "$"); ok && strings.HasPrefix(r, "rounds=") {
			rounds = r
		}
		return "crypt" + hash[:3] + rounds
	}
	return ""
}

// hashClasses counts hashes by class (hashClass) and keeps the first hash
// of each class as its representative.
type hashClasses map[string]classCount

type classCount struct {
	n   int
	rep string
}

func (c hashClasses) add(hash string) {
	k := hashClass(hash)
	if k == "" {
		return
	}
	cc := c[k]
	cc.n++
	if cc.rep == "" {
		cc.rep = hash
	}
	c[k] = cc
}

// dummyHash returns the hash an unknown user's password is verified
// against, so that the answer takes as long as a real user's: a hash of
// the most common class in c (ties broken by class name). It is one of the
// accounts' own hashes (the result of that verification is discarded), or
// defaultDummyHash when there are no accounts.
func dummyHash(c hashClasses) string {
	best := ""
	for k, cc := range c {
		if b := c[best]; best == "" || cc.n > b.n || cc.n == b.n && k < best {
			best = k
		}
	}
	if best == "" {
		return defaultDummyHash()
	}
	return c[best].rep
}

func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

// onVerify, when set (by tests), is called with every hash verifyHash
// checks a password against.
var onVerify func(hash string)

// htpasswdParsers are the formats accepted from an htpasswd file beyond
// bcrypt and argon2id. AcceptPlain is left out on purpose: with it, any
// unrecognised entry would be taken as a plain-text password (STACK.md §8).
var htpasswdParsers = []htpasswd.PasswdParser{
	htpasswd.AcceptMd5, htpasswd.AcceptSha, htpasswd.AcceptSsha, htpasswd.AcceptCryptSha,
}

// verifyHash reports whether password matches the stored hash. It returns
// ErrUnknownHashFormat for a hash it cannot interpret, which never matches.
//
// A password longer than 72 bytes never matches a bcrypt hash: bcrypt
// would compare only its first 72 bytes, so any password sharing them
// would match. An empty hash never matches.
func verifyHash(hash, password string) (bool, error) {
	if onVerify != nil {
		onVerify(hash)
	}
	switch {
	case hash == "":
		return false, fmt.Errorf("auth: empty hash: %w", ErrUnknownHashFormat)
	case isBcrypt(hash):
		if len(password) > maxBcryptPassword {
			return false, nil
		}
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
	maxArgonMemoryKiB = 1 << 20 // KiB: 1 GiB
	maxArgonTime      = 16
	maxArgonThreads   = 64
)

// argon2idHash is a parsed PHC-format argon2id hash.
type argon2idHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parseArgon2id parses $argon2id$v=19$m=65536,t=3,p=4$<salt>$<key>, salt and
// key in unpadded standard base64, and checks the parameters' limits.
func parseArgon2id(hash string) (*argon2idHash, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, fmt.Errorf("auth: argon2id hash: want 5 fields: %w", ErrUnknownHashFormat)
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return nil, fmt.Errorf("auth: argon2id hash: unsupported version %q: %w", parts[2], ErrUnknownHashFormat)
	}
	var h argon2idHash
	var rest string
	n, _ := fmt.Sscanf(parts[3]+"$", "m=%d,t=%d,p=%d%s", &h.memory, &h.time, &h.threads, &rest)
	if n != 4 || rest != "$" {
		return nil, fmt.Errorf("auth: argon2id hash: parameters %q: %w", parts[3], ErrUnknownHashFormat)
	}
	if h.memory == 0 || h.memory > maxArgonMemoryKiB || h.time == 0 || h.time > maxArgonTime ||
		h.threads == 0 || h.threads > maxArgonThreads {
		return nil, fmt.Errorf("auth: argon2id hash: parameters %q out of range: %w", parts[3], ErrUnknownHashFormat)
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return nil, fmt.Errorf("auth: argon2id hash: salt: %w", ErrUnknownHashFormat)
	}
	h.key, err = base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(h.key) < 4 || len(h.key) > 1024 {
		return nil, fmt.Errorf("auth: argon2id hash: key: %w", ErrUnknownHashFormat)
	}
	return &h, nil
}

// verifyArgon2id checks password against a PHC-format argon2id hash.
func verifyArgon2id(hash, password string) (bool, error) {
	h, err := parseArgon2id(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}

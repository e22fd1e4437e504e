package auth

import (
	"errors"
	"strings"
	"testing"
)

func FuzzParseArgon2id(f *testing.F) {
	f.Add("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=0,t=0,p=0$$")
	f.Add("$argon2id$v=19$m=65536,t=3,p=4x$c2FsdA$aGFzaA")
	f.Fuzz(func(t *testing.T, hash string) {
		h, err := parseArgon2id(hash)
		if err != nil {
			if !errors.Is(err, ErrUnknownHashFormat) {
				t.Fatalf("parseArgon2id(%q) error %v does not wrap ErrUnknownHashFormat", hash, err)
			}
			return
		}
		if h.memory == 0 || h.memory > maxArgonMemoryKiB || h.time == 0 || h.time > maxArgonTime ||
			h.threads == 0 || h.threads > maxArgonThreads || len(h.key) < 4 {
			t.Fatalf("parseArgon2id(%q) accepted out-of-range parameters %+v", hash, h)
		}
	})
}

func FuzzParseHtpasswd(f *testing.F) {
	f.Add("alice:$2y$10$abc\n# comment\n\nbob:{SHA}xyz\r\n")
	f.Add("nocolon\n:nouser\nnohash:\n")
	f.Fuzz(func(t *testing.T, data string) {
		for user, hash := range parseHtpasswd([]byte(data)) {
			if user == "" || strings.ContainsAny(user, ":\n") || strings.Contains(hash, "\n") {
				t.Fatalf("bad entry %q:%q from %q", user, hash, data)
			}
			if hash == "" {
				// Kept to disable the user: it must never match.
				if ok, _ := verifyHash(hash, ""); ok {
					t.Fatalf("empty hash of %q matches", user)
				}
			}
		}
	})
}

func TestVerifyHashUnknownFormat(t *testing.T) {
	for _, h := range []string{"secret", "$scrypt$x", "", "$argon2i$v=19$m=8,t=1,p=1$AAAA$AAAA",
		"$argon2id$v=19$m=8,t=1,p=1,x=2$AAAA$AAAAAAAA"} {
		ok, err := verifyHash(h, h)
		if ok || !errors.Is(err, ErrUnknownHashFormat) {
			t.Errorf("verifyHash(%q) = %v, %v; want false, ErrUnknownHashFormat", h, ok, err)
		}
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := verifyHash(h, "secret"); !ok || err != nil {
		t.Errorf("verifyHash(HashPassword(secret), secret) = %v, %v", ok, err)
	}
	if ok, _ := verifyHash(h, "Secret"); ok {
		t.Error("verifyHash accepted a wrong password")
	}
	if _, err := HashPassword(strings.Repeat("x", 73)); err == nil {
		t.Error("HashPassword accepted 73 bytes, which bcrypt would truncate")
	}
}

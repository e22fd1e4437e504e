package auth

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// verifiedHashes runs fn and returns the hashes verifyHash checked.
func verifiedHashes(fn func()) []string {
	var got []string
	onVerify = func(h string) { got = append(got, h) }
	defer func() { onVerify = nil }()
	fn()
	return got
}

// TestUnknownUserCostsTheSame is the timing finding, without timing: an
// unknown user's password is verified against a hash of the same
// algorithm and cost as the configured users' — htpasswd's {SHA}, apr1 or
// bcrypt at its cost, or the engine's bcrypt cost.
func TestUnknownUserCostsTheSame(t *testing.T) {
	sum := sha1.Sum([]byte("pw"))
	sha := "{SHA}" + base64.StdEncoding.EncodeToString(sum[:])
	bcrypt5, err := bcrypt.GenerateFromPassword([]byte("pw"), 5)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		engine    []string // engine users' hashes
		htpasswd  []string // htpasswd entries' hashes
		wantClass string
	}{
		{"EngineOnly", []string{MustHash(t, "pw"), MustHash(t, "pw2")}, nil, "bcrypt cost=4"},
		{"HtpasswdSHA", nil, []string{sha, sha}, "sha"},
		{"HtpasswdApr1", nil, []string{"$apr1$abcdefgh$hBtoPwBKQ4bEOeF7wMJwJ/"}, "apr1"},
		{"HtpasswdBcrypt5", nil, []string{string(bcrypt5)}, "bcrypt cost=5"},
		{"MostCommon", []string{MustHash(t, "pw")}, []string{sha, sha, sha}, "sha"},
		{"NoAccounts", nil, nil, "bcrypt cost=4"}, // dummyCost, lowered by TestMain
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			for i, h := range tt.engine {
				MustPutUser(t, db, "e"+string(rune('a'+i)), h, "")
			}
			opts := Options{DB: db}
			if tt.htpasswd != nil {
				var b strings.Builder
				for i, h := range tt.htpasswd {
					b.WriteString("h" + string(rune('a'+i)) + ":" + h + "\n")
				}
				opts.HtpasswdFile = filepath.Join(t.TempDir(), "htpasswd")
				mustWrite(t, opts.HtpasswdFile, b.String())
			}
			v, _ := newVerifier(t, opts)
			got := verifiedHashes(func() {
				_, err := v.Authenticate(context.Background(), "nobody", "guess", "192.0.2.1")
				if !errors.Is(err, ErrBadCredentials) {
					t.Errorf("unknown user: err = %v", err)
				}
			})
			if len(got) != 1 || hashClass(got[0]) != tt.wantClass {
				var classes []string
				for _, h := range got {
					classes = append(classes, hashClass(h))
				}
				t.Errorf("unknown user verified against %q, want one hash of class %q", classes, tt.wantClass)
			}
			// A known user runs exactly one verification too.
			if len(tt.htpasswd) > 0 {
				known := verifiedHashes(func() { v.Authenticate(context.Background(), "ha", "guess", "192.0.2.1") })
				if len(known) != 1 || hashClass(known[0]) != hashClass(tt.htpasswd[0]) {
					t.Errorf("known user verified %d hashes", len(known))
				}
			}
		})
	}
}

func TestHashClass(t *testing.T) {
	for hash, want := range map[string]string{
		"$2y$10$abcdefghijklmnopqrstuuJx1oF1sJ7i2lUy9f1eYyXbYg2jJ5s2u": "bcrypt cost=10",
		"$apr1$salt$hash":           "apr1",
		"{SHA}abc":                  "sha",
		"{SSHA}abc":                 "ssha",
		"$5$salt$hash":              "crypt$5$rounds=5000",
		"$6$rounds=10000$salt$hash": "crypt$6$rounds=10000",
		"$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaGhhc2g": "argon2id m=8,t=1,p=1,len=8",
		"plaintext": "",
		"":          "",
	} {
		if got := hashClass(hash); got != want {
			t.Errorf("hashClass(%q) = %q, want %q", hash, got, want)
		}
	}
}

// TestBcrypt72Bytes: bcrypt reads only 72 bytes; a 73-byte password that
// shares its first 72 bytes with the right one must not match, for our
// own hashes and htpasswd's.
func TestBcrypt72Bytes(t *testing.T) {
	pw72 := strings.Repeat("p", 72)
	h, err := bcrypt.GenerateFromPassword([]byte(pw72), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	db := MustOpenDB(t)
	MustPutUser(t, db, "alice", string(h), "")
	file := filepath.Join(t.TempDir(), "htpasswd")
	mustWrite(t, file, "hank:"+string(h)+"\n")
	v, _ := newVerifier(t, Options{DB: db, HtpasswdFile: file})
	ctx := context.Background()
	for _, user := range []string{"alice", "hank"} {
		if _, err := v.Authenticate(ctx, user, pw72, "192.0.2.1"); err != nil {
			t.Errorf("%s, 72-byte password: %v", user, err)
		}
		for _, long := range []string{pw72 + "x", pw72 + pw72} {
			if _, err := v.Authenticate(ctx, user, long, "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
				t.Errorf("%s, %d-byte password sharing the 72-byte prefix: err = %v, want ErrBadCredentials", user, len(long), err)
			}
		}
	}
	if _, err := HashPassword(pw72 + "x"); err == nil {
		t.Errorf("HashPassword accepted 73 bytes")
	}
}

// TestEmptyPasswordAndHash: an empty password never logs in, not even
// against an empty hash (engine account or htpasswd entry), and an empty
// htpasswd entry disables the user's earlier entry.
func TestEmptyPasswordAndHash(t *testing.T) {
	db := MustOpenDB(t)
	MustPutUser(t, db, "alice", MustHash(t, "secret"), "")
	MustPutUser(t, db, "nohash", "", "")
	emptyHash, err := bcrypt.GenerateFromPassword(nil, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	mustWrite(t, file, "ivy:"+string(emptyHash)+"\njoe:"+MustHash(t, "secret")+"\njoe:\nkim:\n")
	v, _ := newVerifier(t, Options{DB: db, HtpasswdFile: file})
	ctx := context.Background()
	for _, c := range [][2]string{{"alice", ""}, {"ivy", ""}, {"nohash", ""}, {"nohash", "x"}, {"joe", "secret"}, {"joe", ""}, {"kim", ""}, {"kim", "x"}} {
		if _, err := v.Authenticate(ctx, c[0], c[1], "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Authenticate(%q, %q) = %v, want ErrBadCredentials", c[0], c[1], err)
		}
	}
}

// TestCacheNeedsSamePassword: a cached success is keyed by the password
// too; another password of the same user is verified, and fails.
func TestCacheNeedsSamePassword(t *testing.T) {
	db := MustOpenDB(t)
	MustPutUser(t, db, "alice", MustHash(t, "secret"), "")
	v, _ := newVerifier(t, Options{DB: db})
	ctx := context.Background()
	if _, err := v.Authenticate(ctx, "alice", "secret", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"Secret", "secret ", "secre", "secret\x00"} {
		n := len(verifiedHashes(func() {
			if _, err := v.Authenticate(ctx, "alice", pw, "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
				t.Errorf("password %q after a cached success: err = %v", pw, err)
			}
		}))
		if n != 1 {
			t.Errorf("password %q: %d verifications, want 1 (no cache hit)", pw, n)
		}
	}
	if n := len(verifiedHashes(func() { v.Authenticate(ctx, "alice", "secret", "192.0.2.1") })); n != 0 {
		t.Errorf("cached password: %d verifications, want 0", n)
	}
}

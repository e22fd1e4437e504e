package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/almanac/almanac/engine"
)

// MustOpenDB opens an in-memory engine closed at the end of the test.
func MustOpenDB(tb testing.TB) *engine.DB {
	tb.Helper()
	db, err := engine.Open("db", &engine.Options{FS: vfs.NewMem()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// MustPutUser stores an engine user whose password hash is hash.
func MustPutUser(tb testing.TB, db *engine.DB, name, hash, role string) {
	tb.Helper()
	if err := db.PutUser(context.Background(), engine.Meta{Actor: "test"}, engine.User{Name: name, PasswordHash: hash, Role: role}); err != nil {
		tb.Fatal(err)
	}
}

// TestMain makes bcrypt cheap: cost 10 takes seconds under the race
// detector on a shared machine, and the cost is not what is tested.
func TestMain(m *testing.M) {
	dummyCost = bcrypt.MinCost
	os.Exit(m.Run())
}

// MustHash returns a bcrypt hash of pw at the minimum cost.
func MustHash(tb testing.TB, pw string) string {
	tb.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	return string(h)
}

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func newVerifier(tb testing.TB, opts Options) (*Verifier, *testClock) {
	tb.Helper()
	clock := &testClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if opts.Clock == nil {
		opts.Clock = clock.Now
	}
	v, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return v, clock
}

func TestAuthenticateEngineUser(t *testing.T) {
	db := MustOpenDB(t)
	MustPutUser(t, db, "alice", MustHash(t, "secret"), engine.RoleAdmin)
	v, _ := newVerifier(t, Options{DB: db})
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		u, err := v.Authenticate(ctx, "alice", "secret", "192.0.2.1:5000")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := u.Name+"/"+u.Role, "alice/"+engine.RoleAdmin; got != want {
			t.Errorf("user = %s, want %s", got, want)
		}
	})
	t.Run("ErrBadCredentials", func(t *testing.T) {
		for _, c := range [][2]string{{"alice", "wrong"}, {"alice", ""}, {"nobody", "secret"}, {"Alice", "secret"}} {
			_, err := v.Authenticate(ctx, c[0], c[1], "192.0.2.2:5000")
			if !errors.Is(err, ErrBadCredentials) {
				t.Errorf("Authenticate(%q, %q) = %v, want ErrBadCredentials", c[0], c[1], err)
			}
		}
	})
}

func TestAuthenticatePasswordChangeIsImmediate(t *testing.T) {
	db := MustOpenDB(t)
	MustPutUser(t, db, "alice", MustHash(t, "old"), "")
	v, _ := newVerifier(t, Options{DB: db})
	ctx := context.Background()
	if _, err := v.Authenticate(ctx, "alice", "old", "192.0.2.1"); err != nil {
		t.Fatal(err) // now cached
	}
	MustPutUser(t, db, "alice", MustHash(t, "new"), "")
	if _, err := v.Authenticate(ctx, "alice", "old", "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password after change: err = %v, want ErrBadCredentials", err)
	}
	if _, err := v.Authenticate(ctx, "alice", "new", "192.0.2.1"); err != nil {
		t.Errorf("new password: %v", err)
	}
}

func TestAuthenticateRemovedUserIsImmediate(t *testing.T) {
	db := MustOpenDB(t)
	MustPutUser(t, db, "bob", MustHash(t, "secret"), "")
	v, _ := newVerifier(t, Options{DB: db})
	ctx := context.Background()
	if _, err := v.Authenticate(ctx, "bob", "secret", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteUser(ctx, engine.Meta{Actor: "test"}, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Authenticate(ctx, "bob", "secret", "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("removed user: err = %v, want ErrBadCredentials", err)
	}
}

// TestAuthenticateDisabledUser: a disabled account is refused with its
// right password, as a bad credential, logged with its reason, and signs
// in again once enabled.
func TestAuthenticateDisabledUser(t *testing.T) {
	db := MustOpenDB(t)
	MustPutUser(t, db, "bob", MustHash(t, "secret"), "")
	logs := &strings.Builder{}
	v, _ := newVerifier(t, Options{DB: db, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx := context.Background()
	if _, err := v.Authenticate(ctx, "bob", "secret", "192.0.2.1"); err != nil {
		t.Fatal(err) // now cached
	}
	set := func(disabled bool) {
		t.Helper()
		if err := db.UpdateUser(ctx, engine.Meta{Actor: "test"}, "bob", func(u *engine.User) error { u.Disabled = disabled; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	set(true)
	if _, err := v.Authenticate(ctx, "bob", "secret", "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("disabled user: err = %v, want ErrBadCredentials", err)
	}
	if !strings.Contains(logs.String(), `reason="account disabled"`) {
		t.Errorf("no reason logged:\n%s", logs)
	}
	set(false)
	if _, err := v.Authenticate(ctx, "bob", "secret", "192.0.2.1"); err != nil {
		t.Errorf("enabled again: %v", err)
	}
}

func TestAuthenticateArgon2id(t *testing.T) {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte("secret"), salt, 1, 8*1024, 1, 32)
	hash := fmt.Sprintf("$argon2id$v=19$m=8192,t=1,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	db := MustOpenDB(t)
	MustPutUser(t, db, "carol", hash, "")
	v, _ := newVerifier(t, Options{DB: db})
	ctx := context.Background()
	if _, err := v.Authenticate(ctx, "carol", "secret", "192.0.2.1"); err != nil {
		t.Errorf("right password: %v", err)
	}
	if _, err := v.Authenticate(ctx, "carol", "Secret", "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("wrong password: err = %v, want ErrBadCredentials", err)
	}
}

func TestAuthenticateUnknownHashIsNotPlaintext(t *testing.T) {
	db := MustOpenDB(t)
	// Neither a hash nor a known format: must never be compared as plain text.
	MustPutUser(t, db, "dave", "plaintext-secret", "")
	MustPutUser(t, db, "erin", "$argon2id$v=19$m=0,t=0,p=0$AAAA$AAAA", "")
	dir := t.TempDir()
	file := filepath.Join(dir, "htpasswd")
	mustWrite(t, file, "frank:plaintext-secret\ngina:$scrypt$whatever\n")
	v, _ := newVerifier(t, Options{DB: db, HtpasswdFile: file})
	ctx := context.Background()
	for _, c := range [][2]string{
		{"dave", "plaintext-secret"},
		{"erin", "$argon2id$v=19$m=0,t=0,p=0$AAAA$AAAA"},
		{"frank", "plaintext-secret"},
		{"gina", "$scrypt$whatever"},
	} {
		if _, err := v.Authenticate(ctx, c[0], c[1], "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Authenticate(%q, stored string) = %v, want ErrBadCredentials", c[0], err)
		}
	}
}

func TestAuthenticateHtpasswd(t *testing.T) {
	db := MustOpenDB(t)
	MustPutUser(t, db, "alice", MustHash(t, "engine-pw"), "")
	sum := sha1.Sum([]byte("sha-pw"))
	file := filepath.Join(t.TempDir(), "htpasswd")
	mustWrite(t, file, "# users\nhank:"+MustHash(t, "bcrypt-pw")+"\n"+
		"ivy:{SHA}"+base64.StdEncoding.EncodeToString(sum[:])+"\n"+
		"alice:"+MustHash(t, "file-pw")+"\n")
	v, _ := newVerifier(t, Options{DB: db, HtpasswdFile: file})
	ctx := context.Background()

	t.Run("Bcrypt", func(t *testing.T) {
		u, err := v.Authenticate(ctx, "hank", "bcrypt-pw", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := *u, (engine.User{Name: "hank", Role: engine.RoleUser}); got.Name != want.Name || got.Role != want.Role {
			t.Errorf("user = %+v, want %+v", got, want)
		}
	})
	t.Run("SHA", func(t *testing.T) {
		if _, err := v.Authenticate(ctx, "ivy", "sha-pw", "192.0.2.1"); err != nil {
			t.Error(err)
		}
	})
	t.Run("EngineWins", func(t *testing.T) {
		if _, err := v.Authenticate(ctx, "alice", "file-pw", "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("htpasswd password of an engine user: err = %v, want ErrBadCredentials", err)
		}
		if _, err := v.Authenticate(ctx, "alice", "engine-pw", "192.0.2.1"); err != nil {
			t.Error(err)
		}
	})
	t.Run("Reload", func(t *testing.T) {
		// Rewrite without hank and with a new password for ivy; the next
		// call sees it, cache or not.
		sum := sha1.Sum([]byte("sha-pw-2"))
		mustWrite(t, file, "ivy:{SHA}"+base64.StdEncoding.EncodeToString(sum[:])+"\n")
		if _, err := v.Authenticate(ctx, "hank", "bcrypt-pw", "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("removed htpasswd user: err = %v, want ErrBadCredentials", err)
		}
		if _, err := v.Authenticate(ctx, "ivy", "sha-pw", "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("old htpasswd password: err = %v, want ErrBadCredentials", err)
		}
		if _, err := v.Authenticate(ctx, "ivy", "sha-pw-2", "192.0.2.1"); err != nil {
			t.Errorf("new htpasswd password: %v", err)
		}
	})
}

// TestAuthenticateHtpasswdAccountWithoutPassword: an account without a
// password (the addresses of an htpasswd user, `user email add`) signs in
// with the file's password and is the account (its addresses, its
// disabled flag); without the file's entry it cannot sign in.
func TestAuthenticateHtpasswdAccountWithoutPassword(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	for _, u := range []engine.User{{Name: "hank", Emails: []string{"hank@x.test"}}, {Name: "nora"}, {Name: "dora", Disabled: true}} {
		if err := db.PutUser(ctx, engine.Meta{Actor: "test"}, u); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	mustWrite(t, file, "hank:"+MustHash(t, "file-pw")+"\ndora:"+MustHash(t, "file-pw")+"\n")
	v, _ := newVerifier(t, Options{DB: db, HtpasswdFile: file})
	u, err := v.Authenticate(ctx, "hank", "file-pw", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Emails) != 1 || u.Emails[0] != "hank@x.test" {
		t.Errorf("account = %+v, want the log's, with hank@x.test", u)
	}
	for _, c := range [][2]string{{"hank", "wrong"}, {"nora", "file-pw"}, {"dora", "file-pw"}} {
		if _, err := v.Authenticate(ctx, c[0], c[1], "192.0.2.2"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Authenticate(%s, %s) = %v, want ErrBadCredentials", c[0], c[1], err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	t.Run("ErrNoDB", func(t *testing.T) {
		if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "DB") {
			t.Errorf("err = %v, want one naming DB", err)
		}
	})
	t.Run("ErrMissingHtpasswd", func(t *testing.T) {
		_, err := New(Options{DB: MustOpenDB(t), HtpasswdFile: filepath.Join(t.TempDir(), "none")})
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want ErrNotExist", err)
		}
	})
}

// mustWrite writes data to file and moves its mtime forward, so that a
// rewrite within the file system's timestamp granularity is still seen.
func mustWrite(tb testing.TB, file, data string) {
	tb.Helper()
	var mt time.Time
	if st, err := os.Stat(file); err == nil {
		mt = st.ModTime().Add(time.Second)
	}
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
	if !mt.IsZero() {
		if err := os.Chtimes(file, mt, mt); err != nil {
			tb.Fatal(err)
		}
	}
}

func BenchmarkAuthenticateCached(b *testing.B) {
	db := MustOpenDB(b)
	MustPutUser(b, db, "alice", MustHash(b, "secret"), "")
	v, _ := newVerifier(b, Options{DB: db})
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Authenticate(ctx, "alice", "secret", "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateUncached measures a full verification at the
// production bcrypt cost (HashPassword), what the cache saves per request.
func BenchmarkAuthenticateUncached(b *testing.B) {
	db := MustOpenDB(b)
	h, err := HashPassword("secret")
	if err != nil {
		b.Fatal(err)
	}
	MustPutUser(b, db, "alice", h, "")
	v, _ := newVerifier(b, Options{DB: db, CacheTTL: -1})
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Authenticate(ctx, "alice", "secret", "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestKnows: the users of the htpasswd file are known (dav counts them as
// principals), a disabled entry (empty hash) and a name the file lacks are
// not, and a verifier without a file knows no one.
func TestKnows(t *testing.T) {
	db := MustOpenDB(t)
	file := filepath.Join(t.TempDir(), "htpasswd")
	mustWrite(t, file, "hank:"+MustHash(t, "pw")+"\nivy:\n")
	v, _ := newVerifier(t, Options{DB: db, HtpasswdFile: file})
	for user, want := range map[string]bool{"hank": true, "ivy": false, "zed": false, "": false} {
		if got := v.Knows(user); got != want {
			t.Errorf("Knows(%q) = %v, want %v", user, got, want)
		}
	}
	if none, _ := newVerifier(t, Options{DB: db}); none.Knows("hank") {
		t.Error("a verifier without an htpasswd file knows hank")
	}
}

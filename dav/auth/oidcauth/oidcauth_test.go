package oidcauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/auth/oidcauth"
	"github.com/almanac/almanac/dav/auth/oidcauth/oidctest"
	"github.com/almanac/almanac/engine"
	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/oauth2"
)

func mustDB(tb testing.TB) *engine.DB {
	tb.Helper()
	db, err := engine.Open("db", &engine.Options{FS: vfs.NewMem()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func newProvider(t *testing.T, op *oidctest.Provider, db *engine.DB, edit func(*oidcauth.Config)) *oidcauth.Provider {
	t.Helper()
	cfg := oidcauth.Config{Issuer: op.Issuer, ClientID: op.ClientID, ClientSecret: op.ClientSecret, DB: db}
	if edit != nil {
		edit(&cfg)
	}
	p, err := oidcauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const redirect = "http://127.0.0.1:1/login/oidc/callback"

// authorize follows AuthCodeURL to the provider and returns the code it
// redirects back with.
func authorize(t *testing.T, p *oidcauth.Provider, state, nonce, verifier string) string {
	t.Helper()
	u, err := p.AuthCodeURL(t.Context(), redirect, state, nonce, verifier)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if got := loc.Query().Get("state"); got != state {
		t.Fatalf("state came back as %q, want %q", got, state)
	}
	return loc.Query().Get("code")
}

func TestCodeFlow(t *testing.T) {
	op := oidctest.Start(t)
	p := newProvider(t, op, mustDB(t), nil)
	t.Run("OK", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := authorize(t, p, "st", "no", v)
		id, err := p.Exchange(t.Context(), redirect, code, v, "no")
		if err != nil {
			t.Fatal(err)
		}
		if id.Name != "alice" || id.Email != "alice@example.org" || id.Subject != "sub-alice" {
			t.Fatalf("identity %+v", id)
		}
	})
	t.Run("ErrWrongVerifier", func(t *testing.T) {
		code := authorize(t, p, "st", "no", oauth2.GenerateVerifier())
		before := op.Refused("pkce")
		_, err := p.Exchange(t.Context(), redirect, code, oauth2.GenerateVerifier(), "no")
		if !errors.Is(err, oidcauth.ErrInvalidToken) {
			t.Fatalf("err %v, want ErrInvalidToken", err)
		}
		if op.Refused("pkce") != before+1 {
			t.Fatal("the provider did not refuse the verifier")
		}
	})
	t.Run("ErrWrongNonce", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := authorize(t, p, "st", "no", v)
		if _, err := p.Exchange(t.Context(), redirect, code, v, "other"); !errors.Is(err, oidcauth.ErrInvalidToken) {
			t.Fatalf("err %v, want ErrInvalidToken", err)
		}
	})
	t.Run("ErrCodeReused", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := authorize(t, p, "st", "no", v)
		if _, err := p.Exchange(t.Context(), redirect, code, v, "no"); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Exchange(t.Context(), redirect, code, v, "no"); !errors.Is(err, oidcauth.ErrInvalidToken) {
			t.Fatalf("err %v, want ErrInvalidToken", err)
		}
	})
	t.Run("UsernameFromUserinfo", func(t *testing.T) {
		p := newProvider(t, op, mustDB(t), func(c *oidcauth.Config) { c.UsernameClaim = "nickname" })
		op.SetUser(map[string]any{"sub": "sub-bob", "preferred_username": "bob"})
		defer op.SetUser(map[string]any{"sub": "sub-alice", "preferred_username": "alice"})
		v := oauth2.GenerateVerifier()
		code := authorize(t, p, "st", "no", v)
		// No nickname in the ID token nor in userinfo.
		if _, err := p.Exchange(t.Context(), redirect, code, v, "no"); !errors.Is(err, oidcauth.ErrInvalidToken) {
			t.Fatalf("err %v, want ErrInvalidToken", err)
		}
	})
}

func TestBearer(t *testing.T) {
	op := oidctest.Start(t)
	db := mustDB(t)
	p := newProvider(t, op, db, nil)
	alice := map[string]any{"sub": "sub-alice", "preferred_username": "alice"}
	with := func(kv ...any) map[string]any {
		c := map[string]any{"sub": "sub-alice", "preferred_username": "alice"}
		for i := 0; i < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	t.Run("OK", func(t *testing.T) {
		id, err := p.VerifyBearer(t.Context(), op.Token(t, alice))
		if err != nil || id.Name != "alice" {
			t.Fatalf("identity %+v, err %v", id, err)
		}
	})
	for name, tok := range map[string]string{
		"ErrOtherAudience": op.Token(t, with("aud", "another-client")),
		"ErrExpired":       op.Token(t, with("exp", time.Now().Add(-time.Minute).Unix())),
		"ErrForeignKey":    op.ForeignToken(t, alice),
		"ErrOtherIssuer":   op.Token(t, with("iss", "https://evil.example")),
		"ErrNoUsername":    op.Token(t, map[string]any{"sub": "x"}),
		"ErrNotJWT":        op.OpaqueToken(alice),
		"ErrTooLarge":      op.Token(t, with("pad", strings.Repeat("x", oidcauth.MaxTokenSize))),
		"ErrGarbage":       "a.b.c",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := p.VerifyBearer(t.Context(), tok); !errors.Is(err, oidcauth.ErrInvalidToken) {
				t.Fatalf("err %v, want ErrInvalidToken", err)
			}
		})
	}
	t.Run("Audience", func(t *testing.T) {
		p := newProvider(t, op, db, func(c *oidcauth.Config) { c.Audience = "https://cal.example" })
		if _, err := p.VerifyBearer(t.Context(), op.Token(t, with("aud", "https://cal.example"))); err != nil {
			t.Fatal(err)
		}
		if _, err := p.VerifyBearer(t.Context(), op.Token(t, alice)); !errors.Is(err, oidcauth.ErrInvalidToken) {
			t.Fatalf("a token for the client id: err %v, want ErrInvalidToken", err)
		}
	})
	t.Run("AllowedGroups", func(t *testing.T) {
		p := newProvider(t, op, db, func(c *oidcauth.Config) { c.AllowedGroups = []string{"calendar"} })
		if _, err := p.VerifyBearer(t.Context(), op.Token(t, with("groups", []string{"staff", "calendar"}))); err != nil {
			t.Fatal(err)
		}
		for _, g := range []any{nil, []string{"staff"}, "staff"} {
			if _, err := p.VerifyBearer(t.Context(), op.Token(t, with("groups", g))); !errors.Is(err, oidcauth.ErrNotAllowed) {
				t.Fatalf("groups %v: err %v, want ErrNotAllowed", g, err)
			}
		}
	})
	t.Run("UserinfoTokens", func(t *testing.T) {
		p := newProvider(t, op, db, func(c *oidcauth.Config) { c.UserinfoTokens = true })
		id, err := p.VerifyBearer(t.Context(), op.OpaqueToken(alice))
		if err != nil || id.Name != "alice" {
			t.Fatalf("identity %+v, err %v", id, err)
		}
		if _, err := p.VerifyBearer(t.Context(), "not-issued"); !errors.Is(err, oidcauth.ErrInvalidToken) {
			t.Fatalf("err %v, want ErrInvalidToken", err)
		}
	})
}

// TestIssuerDown: an issuer that does not answer makes sign-ins and
// tokens unavailable (never invalid, never a success), is retried only
// after RetryInterval, and works once it answers.
func TestIssuerDown(t *testing.T) {
	op := oidctest.Start(t)
	var down atomic.Bool
	down.Store(true)
	var requests atomic.Int32
	client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		requests.Add(1)
		if down.Load() {
			return nil, errors.New("connection refused")
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	now := time.Now()
	var clock atomic.Int64
	p := newProvider(t, op, mustDB(t), func(c *oidcauth.Config) {
		c.HTTPClient = client
		c.RetryInterval = time.Minute
		c.Now = func() time.Time { return now.Add(time.Duration(clock.Load())) }
	})
	var ue *oidcauth.UnavailableError
	if err := p.Discover(t.Context()); !errors.As(err, &ue) || ue.ServiceUnavailable() != 60 {
		t.Fatalf("err %v, want an UnavailableError of 60 s", err)
	}
	tok := op.Token(t, map[string]any{"sub": "s", "preferred_username": "alice"})
	if _, err := p.VerifyBearer(t.Context(), tok); !errors.As(err, &ue) {
		t.Fatalf("err %v, want an UnavailableError", err)
	}
	if _, err := p.AuthCodeURL(t.Context(), redirect, "s", "n", "v"); !errors.As(err, &ue) {
		t.Fatalf("err %v, want an UnavailableError", err)
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("%d requests within RetryInterval, want 1", n)
	}
	down.Store(false)
	clock.Store(int64(time.Minute))
	if _, err := p.VerifyBearer(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAccount(t *testing.T) {
	op := oidctest.Start(t)
	db := mustDB(t)
	ctx := context.Background()
	m := engine.Meta{Actor: "oidc"}
	t.Run("ErrUnknown", func(t *testing.T) {
		p := newProvider(t, op, db, nil)
		if _, err := p.Account(ctx, m, oidcauth.Identity{Name: "carol"}); !errors.Is(err, oidcauth.ErrNotAllowed) {
			t.Fatalf("err %v, want ErrNotAllowed", err)
		}
		if _, err := db.User("carol"); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("carol was created: %v", err)
		}
	})
	t.Run("AutoProvisionOnce", func(t *testing.T) {
		p := newProvider(t, op, db, func(c *oidcauth.Config) { c.AutoProvision = true })
		u, err := p.Account(ctx, m, oidcauth.Identity{Name: "carol", Email: "carol@example.org"})
		if err != nil || u.Name != "carol" || u.PasswordHash != "" || len(u.Emails) != 1 || u.Emails[0] != "carol@example.org" {
			t.Fatalf("account %+v, err %v", u, err)
		}
		head := db.Head()
		if _, err := p.Account(ctx, m, oidcauth.Identity{Name: "carol", Email: "carol@example.org"}); err != nil {
			t.Fatal(err)
		}
		if db.Head() != head {
			t.Fatal("a second sign-in wrote to the log")
		}
	})
	t.Run("AutoProvisionTakenEmail", func(t *testing.T) {
		p := newProvider(t, op, db, func(c *oidcauth.Config) { c.AutoProvision = true })
		u, err := p.Account(ctx, m, oidcauth.Identity{Name: "dave", Email: "carol@example.org"})
		if err != nil || len(u.Emails) != 0 {
			t.Fatalf("account %+v, err %v", u, err)
		}
	})
	t.Run("ErrDisabled", func(t *testing.T) {
		p := newProvider(t, op, db, func(c *oidcauth.Config) { c.AutoProvision = true })
		if err := db.PutUser(ctx, m, engine.User{Name: "erin", Disabled: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Account(ctx, m, oidcauth.Identity{Name: "erin"}); !errors.Is(err, oidcauth.ErrNotAllowed) {
			t.Fatalf("err %v, want ErrNotAllowed", err)
		}
	})
	t.Run("ErrBadName", func(t *testing.T) {
		p := newProvider(t, op, db, func(c *oidcauth.Config) { c.AutoProvision = true })
		if _, err := p.Account(ctx, m, oidcauth.Identity{Name: "../x"}); !errors.Is(err, oidcauth.ErrInvalidToken) {
			t.Fatalf("err %v, want ErrInvalidToken", err)
		}
	})
}

// TestKeyRefresh: tokens no known key verifies fetch the issuer's keys
// at most once per 30 seconds (a flood of forged tokens costs the issuer
// nothing more), and a rotated key is picked up after that.
func TestKeyRefresh(t *testing.T) {
	op := oidctest.Start(t)
	now := time.Now()
	var clock atomic.Int64
	p := newProvider(t, op, mustDB(t), func(c *oidcauth.Config) {
		c.Now = func() time.Time { return now.Add(time.Duration(clock.Load())) }
	})
	alice := map[string]any{"sub": "sub-alice", "preferred_username": "alice"}
	if _, err := p.VerifyBearer(t.Context(), op.Token(t, alice)); err != nil {
		t.Fatal(err)
	}
	fetched := op.KeyRequests()
	for range 20 {
		if _, err := p.VerifyBearer(t.Context(), op.ForeignToken(t, alice)); !errors.Is(err, oidcauth.ErrInvalidToken) {
			t.Fatalf("forged token: err %v, want ErrInvalidToken", err)
		}
	}
	if n := op.KeyRequests() - fetched; n > 1 {
		t.Fatalf("20 forged tokens fetched the keys %d times, want at most 1", n)
	}
	op.Rotate(t)
	clock.Store(int64(31 * time.Second))
	if _, err := p.VerifyBearer(t.Context(), op.Token(t, alice)); err != nil {
		t.Fatalf("a token of the rotated key: %v", err)
	}
}

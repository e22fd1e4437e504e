package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/almanac/almanac/engine"
)

type bearerFunc func(ctx context.Context, m engine.Meta, token string) (*engine.User, error)

func (f bearerFunc) AuthenticateBearer(ctx context.Context, m engine.Meta, token string) (*engine.User, error) {
	return f(ctx, m, token)
}

// unavailable is an error of an issuer that did not answer.
type unavailable struct{}

func (unavailable) Error() string           { return "issuer down" }
func (unavailable) ServiceUnavailable() int { return 10 }

// TestAuthenticateBearer: a refused token counts in the limiter per
// address, an issuer that does not answer does not, and a good token
// from a locked address is answered 429 without being checked.
func TestAuthenticateBearer(t *testing.T) {
	calls := 0
	v, err := New(Options{DB: MustOpenDB(t), MaxFailures: 3, Bearer: bearerFunc(func(_ context.Context, m engine.Meta, tok string) (*engine.User, error) {
		calls++
		switch tok {
		case "good":
			if m.UserAgent != "ua" {
				return nil, fmt.Errorf("user agent %q", m.UserAgent)
			}
			return &engine.User{Name: "alice", Role: engine.RoleUser}, nil
		case "down":
			return nil, unavailable{}
		}
		return nil, fmt.Errorf("bad: %w", ErrBadCredentials)
	})})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if u, err := v.AuthenticateBearer(ctx, "good", "192.0.2.1:1", "ua"); err != nil || u.Name != "alice" {
		t.Fatalf("user %v, err %v", u, err)
	}
	for range 5 {
		if _, err := v.AuthenticateBearer(ctx, "down", "192.0.2.1:1", "ua"); !errors.Is(err, unavailable{}) {
			t.Fatalf("err %v, want the issuer's", err)
		}
	}
	for i := range 3 {
		if _, err := v.AuthenticateBearer(ctx, "bad", "192.0.2.1:1", "ua"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("attempt %d: err %v, want ErrBadCredentials", i, err)
		}
	}
	before := calls
	if _, err := v.AuthenticateBearer(ctx, "good", "192.0.2.1:1", "ua"); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err %v, want ErrRateLimited", err)
	}
	if calls != before {
		t.Fatal("a locked address's token was checked")
	}
	if u, err := v.AuthenticateBearer(ctx, "good", "192.0.2.2:1", "ua"); err != nil || u.Name != "alice" {
		t.Fatalf("another address: user %v, err %v", u, err)
	}
	if f := v.Failures(); f.BadCredentials != 3 || f.RateLimited != 1 {
		t.Fatalf("failures %+v, want 3 bad and 1 rate limited", f)
	}
}

func TestAuthenticateBearerNotConfigured(t *testing.T) {
	v, err := New(Options{DB: MustOpenDB(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.AuthenticateBearer(t.Context(), "x.y.z", "192.0.2.1:1", ""); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("err %v, want ErrBadCredentials", err)
	}
}

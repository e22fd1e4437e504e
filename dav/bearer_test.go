package dav

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/almanac/almanac/engine"
)

// bearerAuth takes the Basic logins of fakeAuth and the bearer token
// "tok-alice"; "tok-limited" is rate limited.
type bearerAuth struct{ fakeAuth }

func (bearerAuth) AuthenticateBearer(_ context.Context, tok, _, _ string) (*engine.User, error) {
	switch tok {
	case "tok-alice":
		return &engine.User{Name: "alice"}, nil
	case "tok-limited":
		return nil, retryErr{}
	}
	return nil, errBadCredentials
}

// TestBearer: "Authorization: Bearer" signs in where Basic does; a bad
// token gets 401 with a Bearer challenge carrying error="invalid_token"
// (RFC 6750 §3.1) and the Basic one, a rate-limited one 429 without
// challenge; without a token only Basic is offered.
func TestBearer(t *testing.T) {
	h, _ := mustHandler(t, Options{})
	h.auth = bearerAuth{}
	propfind := func(auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("PROPFIND", "/dav/home/alice/", nil)
		req.Header.Set("Depth", "0")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := propfind("Bearer tok-alice"); rec.Code != 207 {
		t.Fatalf("good token: status %d, want 207: %s", rec.Code, rec.Body)
	}
	if rec := propfind("bearer tok-alice"); rec.Code != 207 {
		t.Fatalf("lower-case scheme: status %d, want 207", rec.Code)
	}
	rec := propfind("Bearer tok-bob")
	if got, want := rec.Result().Header.Values("WWW-Authenticate"), []string{bearerChallenge, `Basic realm="Almanac", charset="UTF-8"`}; rec.Code != 401 || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("bad token: status %d, WWW-Authenticate %q, want 401 and %q", rec.Code, got, want)
	}
	rec = propfind("Bearer tok-limited")
	if rec.Code != 429 || rec.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("limited: status %d, WWW-Authenticate %q, want 429 and none", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	rec = propfind("")
	if got := rec.Result().Header.Values("WWW-Authenticate"); rec.Code != 401 || len(got) != 1 {
		t.Fatalf("no credentials: status %d, WWW-Authenticate %q, want 401 and Basic only", rec.Code, got)
	}
	h.auth = fakeAuth{}
	rec = propfind("Bearer tok-alice")
	if got := rec.Result().Header.Values("WWW-Authenticate"); rec.Code != 401 || len(got) != 2 {
		t.Fatalf("no bearer support: status %d, WWW-Authenticate %q, want 401 and both challenges", rec.Code, got)
	}
}

package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/auth/oidcauth/oidctest"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// startOIDCServer starts serve with op as its issuer and extra flags.
func startOIDCServer(t *testing.T, op *oidctest.Provider, flags ...string) *testServer {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secret, []byte(op.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServer(t, append([]string{"--oidc-issuer=" + op.Issuer, "--oidc-client-id=" + op.ClientID,
		"--oidc-client-secret-file=" + secret}, flags...)...)
}

// bearerPropfind sends a PROPFIND with "Authorization: Bearer tok".
func bearerPropfind(t *testing.T, url, tok string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("PROPFIND", url, nil)
	req.Header.Set("Depth", "0")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestServeOIDCBearer: with --oidc-issuer, an access token of the issuer
// signs alice in on DAV (PROPFIND) and on gRPC (Subscribe streams her
// change); an expired token, one for another audience or signed by
// another key gets 401 with error="invalid_token"; password logins keep
// working.
func TestServeOIDCBearer(t *testing.T) {
	op := oidctest.Start(t)
	srv := startOIDCServer(t, op)
	alice := map[string]any{"sub": "sub-alice", "preferred_username": "alice"}
	tok := op.Token(t, alice)
	if resp := bearerPropfind(t, srv.BaseURL+"/dav/home/alice/", tok); resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("bearer PROPFIND: %d, want 207", resp.StatusCode)
	}
	with := func(k string, v any) map[string]any {
		c := map[string]any{"sub": "sub-alice", "preferred_username": "alice"}
		c[k] = v
		return c
	}
	for name, bad := range map[string]string{
		"expired":        op.Token(t, with("exp", time.Now().Add(-time.Minute).Unix())),
		"other audience": op.Token(t, with("aud", "another-client")),
		"other key":      op.ForeignToken(t, alice),
	} {
		resp := bearerPropfind(t, srv.BaseURL+"/dav/home/alice/", bad)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s: %d %q, want 401 with error=\"invalid_token\"", name, resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
		}
	}
	if got := propfindStatus(t, srv.BaseURL+"/dav/home/bob/", "bob", testPassword); got != http.StatusMultiStatus {
		t.Errorf("bob's password: %d, want 207", got)
	}

	rt := runtimeFor(srv.DB)
	cc, err := grpc.NewClient(rt.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(authCreds{"Bearer " + tok, false}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, _ := srv.Do(t, "PUT", "/dav/home/alice/calendar/e2e.ics", "alice", feedTestEvent, "Content-Type", "text/calendar"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	stream, err := feedv1.NewChangeFeedServiceClient(cc).Subscribe(ctx, &feedv1.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for found := false; !found; {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Subscribe with a bearer token: %v", err)
		}
		for _, c := range resp.GetChanges() {
			found = found || c.GetObject() == "e2e.ics"
		}
	}
	bad, err := grpc.NewClient(rt.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(authCreds{"Bearer " + op.ForeignToken(t, alice), false}))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := feedv1.NewChangeFeedServiceClient(bad).Head(ctx, &feedv1.HeadRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC with a token of another key: %v, want Unauthenticated", err)
	}
}

// TestServeOIDCIssuerDown: an issuer that does not answer at start does
// not stop serve; bearer tokens get 503 with Retry-After (never 401 nor a
// success) and passwords still work.
func TestServeOIDCIssuerDown(t *testing.T) {
	op := oidctest.Start(t)
	tok := op.Token(t, map[string]any{"sub": "sub-alice", "preferred_username": "alice"})
	op.Close()
	srv := startOIDCServer(t, op, "--oidc-timeout=2s")
	resp := bearerPropfind(t, srv.BaseURL+"/dav/home/alice/", tok)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("issuer down: %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := propfindStatus(t, srv.BaseURL+"/dav/home/alice/", "alice", testPassword); got != http.StatusMultiStatus {
		t.Errorf("alice's password with the issuer down: %d, want 207", got)
	}
}

// TestOIDCFlags: the --oidc-* flags but --oidc-issuer need it, and the
// client id is required with it.
func TestOIDCFlags(t *testing.T) {
	for _, c := range []struct {
		cfg   oidcConfig
		field string
	}{
		{oidcConfig{ClientID: "x"}, "oidc-client-id"},
		{oidcConfig{AutoProvision: true}, "oidc-auto-provision"},
		{oidcConfig{Issuer: "https://id.example", Timeout: time.Second}, "oidc-client-id"},
		{oidcConfig{Issuer: "id.example", ClientID: "x", Timeout: time.Second}, "oidc-issuer"},
		{oidcConfig{Issuer: "https://id.example", ClientID: "x", RedirectURL: "/cb", Timeout: time.Second}, "oidc-redirect-url"},
		{oidcConfig{Issuer: "https://id.example", ClientID: "x", ClientSecretFile: "/nonexistent", Timeout: time.Second}, "oidc-client-secret-file"},
	} {
		var ce *ConfigError
		if err := c.cfg.validate(); !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("%+v: err %v, want a ConfigError of %s", c.cfg, err, c.field)
		}
	}
	if err := (&oidcConfig{Issuer: "https://id.example", ClientID: "x", Timeout: time.Second}).validate(); err != nil {
		t.Errorf("a valid configuration: %v", err)
	}
}

// TestServeOIDCSignIn: a browser (a client with a cookie jar following
// redirects) clicks "Sign in with" and ends on its calendars page, signed
// in through the code flow with PKCE as a user created at that moment
// (--oidc-auto-provision), who then has a home over DAV.
func TestServeOIDCSignIn(t *testing.T) {
	op := oidctest.Start(t)
	op.SetUser(map[string]any{"sub": "sub-dana", "preferred_username": "dana", "email": "dana@example.org", "email_verified": true})
	srv := startOIDCServer(t, op, "--oidc-auto-provision")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(srv.BaseURL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `href="/login/oidc"`) {
		t.Fatalf("the sign-in page has no OIDC button:\n%s", body)
	}
	resp, err = c.Get(srv.BaseURL + "/login/oidc")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/calendars" || !strings.Contains(string(body), "dana") {
		t.Fatalf("after the sign-in: %d at %s\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	if op.Refused("pkce")+op.Refused("client")+op.Refused("redirect") != 0 {
		t.Fatal("the provider refused the token request")
	}
	u, err := srv.DB.User("dana")
	if err != nil || u.PasswordHash != "" {
		t.Fatalf("dana: %+v, %v", u, err)
	}
	if resp := bearerPropfind(t, srv.BaseURL+"/dav/home/dana/", op.Token(t, map[string]any{"sub": "sub-dana", "preferred_username": "dana"})); resp.StatusCode != http.StatusMultiStatus {
		t.Errorf("dana's home with a bearer token: %d, want 207", resp.StatusCode)
	}
}

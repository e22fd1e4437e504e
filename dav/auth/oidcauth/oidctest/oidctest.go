// Package oidctest runs a minimal OpenID provider for tests, on a
// loopback port: discovery, a JWKS endpoint, an authorization endpoint
// that signs in a preset user at once, a token endpoint that checks the
// client secret, the redirect URI and the PKCE verifier (S256 only), and
// userinfo. Tokens are real JWTs signed with RS256 by
// github.com/go-jose/go-jose/v4 (the library go-oidc verifies with).
//
// It is written for Almanac's tests instead of zitadel/oidc's op package,
// which needs storage, a login UI and some twenty modules for the same
// few endpoints.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Provider is a running test provider.
type Provider struct {
	// Issuer is the provider's URL, http://127.0.0.1:PORT.
	Issuer string
	// ClientID and ClientSecret are its one client.
	ClientID, ClientSecret string

	other *rsa.PrivateKey // signs tokens no JWKS lists
	srv   *httptest.Server

	mu sync.Mutex // guards the fields below
	// key signs, as kid; Rotate replaces them.
	key *rsa.PrivateKey
	kid string
	// keyRequests counts the JWKS requests.
	keyRequests int
	// user is the claims of the user the authorization endpoint signs in.
	user   map[string]any
	codes  map[string]*grant
	opaque map[string]map[string]any
	// refused counts token requests refused, by reason.
	refused map[string]int
}

// grant is an authorization code's request.
type grant struct {
	redirect, nonce, challenge string
	claims                     map[string]any
}

// Start runs a provider until the test ends. Its client is "almanac" with
// secret "client-secret"; the signed-in user is preferred_username
// "alice" until SetUser.
func Start(t testing.TB) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{ClientID: "almanac", ClientSecret: "client-secret", key: key, kid: "k1", other: other,
		user:  map[string]any{"sub": "sub-alice", "preferred_username": "alice", "email": "alice@example.org", "email_verified": true},
		codes: map[string]*grant{}, opaque: map[string]map[string]any{}, refused: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /keys", p.keys)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	p.srv = httptest.NewServer(mux)
	p.Issuer = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// Close stops the provider (an issuer outage).
func (p *Provider) Close() { p.srv.Close() }

// SetUser sets the claims of the user the authorization endpoint signs
// in ("sub" and the username claim at least).
func (p *Provider) SetUser(claims map[string]any) {
	p.mu.Lock()
	p.user = maps.Clone(claims)
	p.mu.Unlock()
}

// Rotate replaces the signing key by a new one with a new key id; the
// JWKS lists only the new one.
func (p *Provider) Rotate(t testing.TB) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.key, p.kid = key, p.kid+"'"
	p.mu.Unlock()
}

// KeyRequests returns how many times the JWKS was fetched.
func (p *Provider) KeyRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keyRequests
}

// Refused returns how many token requests were refused for reason
// ("pkce", "code", "client", "redirect").
func (p *Provider) Refused(reason string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused[reason]
}

// Token returns a JWT access token for claims, signed with the provider's
// key: "iss" is the issuer, "aud" the client and "exp" an hour from now
// unless claims set them.
func (p *Provider) Token(t testing.TB, claims map[string]any) string {
	p.mu.Lock()
	key := p.key
	p.mu.Unlock()
	return p.sign(t, key, claims)
}

// ForeignToken is Token signed with a key the JWKS does not list.
func (p *Provider) ForeignToken(t testing.TB, claims map[string]any) string {
	return p.sign(t, p.other, claims)
}

// OpaqueToken returns an access token that is no JWT, which userinfo
// answers with claims.
func (p *Provider) OpaqueToken(claims map[string]any) string {
	tok := randomString()
	p.mu.Lock()
	p.opaque[tok] = maps.Clone(claims)
	p.mu.Unlock()
	return tok
}

func (p *Provider) sign(t testing.TB, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	c := map[string]any{"iss": p.Issuer, "aud": p.ClientID, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
	maps.Copy(c, claims)
	p.mu.Lock()
	kid := p.kid
	p.mu.Unlock()
	tok, err := signJWT(key, kid, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func signJWT(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func randomString() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                         p.Issuer,
		"authorization_endpoint":                         p.Issuer + "/authorize",
		"token_endpoint":                                 p.Issuer + "/token",
		"userinfo_endpoint":                              p.Issuer + "/userinfo",
		"jwks_uri":                                       p.Issuer + "/keys",
		"response_types_supported":                       []string{"code"},
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          []string{"RS256"},
		"code_challenge_methods_supported":               []string{"S256"},
		"authorization_response_iss_parameter_supported": true,
	})
}

func (p *Provider) keys(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	p.keyRequests++
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: p.key.Public(), KeyID: p.kid, Algorithm: "RS256", Use: "sig"}}}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

// authorize signs the preset user in at once and redirects back with a
// code, the state and the issuer (RFC 9207).
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("client_id") != p.ClientID || err != nil || redirect.Host == "":
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "only the code flow with PKCE S256", http.StatusBadRequest)
		return
	}
	code := randomString()
	p.mu.Lock()
	p.codes[code] = &grant{redirect: q.Get("redirect_uri"), nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), claims: maps.Clone(p.user)}
	p.mu.Unlock()
	v := redirect.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	v.Set("iss", p.Issuer)
	redirect.RawQuery = v.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token redeems a code once (RFC 6749 §4.1.3, RFC 7636 §4.6).
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	if u, err := url.QueryUnescape(id); err == nil && ok {
		id = u
	}
	if s, err := url.QueryUnescape(secret); err == nil && ok {
		secret = s
	}
	refuse := func(reason, code string) {
		p.mu.Lock()
		p.refused[reason]++
		p.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": reason})
	}
	if id != p.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.ClientSecret)) != 1 {
		refuse("client", "invalid_client")
		return
	}
	p.mu.Lock()
	g := p.codes[r.PostFormValue("code")]
	delete(p.codes, r.PostFormValue("code"))
	p.mu.Unlock()
	if g == nil || r.PostFormValue("grant_type") != "authorization_code" {
		refuse("code", "invalid_grant")
		return
	}
	if r.PostFormValue("redirect_uri") != g.redirect {
		refuse("redirect", "invalid_grant")
		return
	}
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		refuse("pkce", "invalid_grant")
		return
	}
	idc := maps.Clone(g.claims)
	idc["nonce"] = g.nonce
	idc["iss"], idc["aud"] = p.Issuer, p.ClientID
	idc["exp"], idc["iat"] = time.Now().Add(time.Hour).Unix(), time.Now().Unix()
	p.mu.Lock()
	key, kid := p.key, p.kid
	p.mu.Unlock()
	idToken, err := signJWT(key, kid, idc)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	access := p.OpaqueToken(g.claims)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
}

// userinfo answers for the opaque access tokens it issued.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	tok := r.Header.Get("Authorization")
	if len(tok) > 7 {
		tok = tok[7:]
	}
	p.mu.Lock()
	c, ok := p.opaque[tok]
	p.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

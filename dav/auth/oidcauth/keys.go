package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keyRefresh is the least time between two fetches of the issuer's keys
// caused by tokens no known key verifies.
const keyRefresh = 30 * time.Second

// signingAlgs are the JWS algorithms accepted (go-oidc's list).
var signingAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512,
	jose.PS256, jose.PS384, jose.PS512, jose.EdDSA,
}

// keySet is the issuer's JWKS (an oidc.KeySet). go-oidc's RemoteKeySet
// fetches the keys again for every token no cached key verifies (to catch
// a rotation), so every forged token would cost a request to the issuer;
// this one fetches at most once per keyRefresh, and remembers why the
// last fetch failed so that an issuer that is down is told from a bad
// token.
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time

	turn    chan struct{} // held by the one fetch running
	mu      sync.Mutex    // guards the fields below
	keys    []jose.JSONWebKey
	fetched time.Time // of the last fetch, successful or not
	err     error     // of the last fetch
}

func newKeySet(url string, client *http.Client, now func() time.Time) *keySet {
	return &keySet{url: url, client: client, now: now, turn: make(chan struct{}, 1)}
}

// VerifySignature returns the payload of a JWS compact token signed by
// one of the issuer's keys.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, signingAlgs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("not one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	verify := func(keys []jose.JSONWebKey) ([]byte, bool) {
		for _, key := range keys {
			if kid == "" || key.KeyID == kid {
				if p, err := jws.Verify(&key); err == nil {
					return p, true
				}
			}
		}
		return nil, false
	}
	keys, stale := k.cached()
	if p, ok := verify(keys); ok {
		return p, nil
	}
	if !stale {
		return nil, errors.New("no key of the issuer verifies the signature")
	}
	keys, err = k.refresh(ctx)
	if err != nil {
		return nil, err
	}
	if p, ok := verify(keys); ok {
		return p, nil
	}
	return nil, errors.New("no key of the issuer verifies the signature")
}

// cached returns the keys, and whether they may be fetched again.
func (k *keySet) cached() ([]jose.JSONWebKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys, k.fetched.IsZero() || k.now().Sub(k.fetched) >= keyRefresh
}

// unavailable returns the error of the last fetch while no key is known:
// tokens cannot be checked at all.
func (k *keySet) unavailable() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) == 0 {
		return k.err
	}
	return nil
}

// refresh fetches the keys unless another caller did within keyRefresh.
func (k *keySet) refresh(ctx context.Context) ([]jose.JSONWebKey, error) {
	select {
	case k.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-k.turn }()
	if keys, stale := k.cached(); !stale {
		return keys, nil // fetched while this caller waited
	}
	keys, err := k.fetch(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	if ctx.Err() != nil {
		return k.keys, ctx.Err() // the client left: not the issuer's failure
	}
	k.fetched, k.err = k.now(), err
	if err != nil {
		return k.keys, err
	}
	k.keys = keys
	return keys, nil
}

// fetch reads the JWKS. Keys of a type go-jose does not know, and
// encryption keys, are skipped rather than failing the set.
func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch keys: %s", resp.Status)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("fetch keys: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		if json.Unmarshal(raw, &key) == nil && key.Use != "enc" && key.Valid() {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// supportedAlgs keeps the discovered algorithms go-jose verifies.
func supportedAlgs(discovered []string) []string {
	var algs []string
	for _, a := range discovered {
		if slices.Contains(signingAlgs, jose.SignatureAlgorithm(a)) {
			algs = append(algs, a)
		}
	}
	return algs
}

// Package pushtest is a Web Push service for tests: it holds each
// subscription's private key, verifies the VAPID token (RFC 8292) and
// decrypts every message (RFC 8291, aes128gcm) with its own implementation
// on Go's crypto/ecdh, crypto/hkdf and crypto/aes — independent of the
// sender's library, and checked against RFC 8291's test vector — then
// parses the WebDAV-Push push-message.
package pushtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	davpush "github.com/almanac/almanac/dav/push"
)

// An independent implementation of the receiving side of RFC 8291
// (aes128gcm, RFC 8188) and of RFC 8292's token check, on Go's crypto/ecdh,
// crypto/hkdf and crypto/aes: the sender's library is checked against it,
// and it against the RFC's own test vector (TestRFC8291Vector).

var b64 = base64.RawURLEncoding

// Decrypt opens an aes128gcm Web Push body for the user agent holding
// uaPriv and auth.
func Decrypt(body []byte, uaPriv *ecdh.PrivateKey, auth []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("body shorter than the aes128gcm header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idlen || idlen != 65 {
		return nil, fmt.Errorf("key id of %d bytes, want the 65-byte sender key", idlen)
	}
	asPub, err := ecdh.P256().NewPublicKey(body[21 : 21+idlen])
	if err != nil {
		return nil, err
	}
	ct := body[21+idlen:]
	if uint32(len(ct)) > rs || len(ct) < 17 {
		return nil, fmt.Errorf("one record of %d bytes with rs %d", len(ct), rs)
	}
	secret, err := uaPriv.ECDH(asPub)
	if err != nil {
		return nil, err
	}
	keyInfo := append(append([]byte("WebPush: info\x00"), uaPriv.PublicKey().Bytes()...), asPub.Bytes()...)
	ikm, err := hkdf.Key(sha256.New, secret, auth, string(keyInfo), 32)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	blk, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	pt, err := gcm.Open(nil, nonce, ct, nil)
	if err != nil {
		return nil, err
	}
	// The last record: content, 0x02, zero padding.
	i := len(pt) - 1
	for i >= 0 && pt[i] == 0 {
		i--
	}
	if i < 0 || pt[i] != 2 {
		return nil, errors.New("no last-record delimiter")
	}
	return pt[:i], nil
}

// VerifyVAPID checks an RFC 8292 Authorization header for a POST to
// endpoint and returns the key (k) it was signed with.
func VerifyVAPID(header, endpoint string, now time.Time) (string, error) {
	rest, ok := strings.CutPrefix(header, "vapid ")
	if !ok {
		return "", fmt.Errorf("authorization %q is not vapid", header)
	}
	var tok, k string
	for _, p := range strings.Split(rest, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch name {
		case "t":
			tok = val
		case "k":
			k = val
		}
	}
	raw, err := b64.DecodeString(k)
	if err != nil {
		return "", err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return "", fmt.Errorf("k: %w", err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", errors.New("t is not a JWS")
	}
	var hdr struct{ Alg, Typ string }
	if err := decodeJSON(parts[0], &hdr); err != nil || hdr.Alg != "ES256" {
		return "", fmt.Errorf("JWT header %+v: %v", hdr, err)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return "", errors.New("ES256 signature is not 64 bytes")
	}
	h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "", errors.New("VAPID signature does not verify")
	}
	var claims struct {
		Aud, Sub string
		Exp      int64
	}
	if err := decodeJSON(parts[1], &claims); err != nil {
		return "", err
	}
	u, _ := url.Parse(endpoint)
	if claims.Aud != u.Scheme+"://"+u.Host {
		return "", fmt.Errorf("aud %q for %s", claims.Aud, endpoint)
	}
	if exp := time.Unix(claims.Exp, 0); !exp.After(now) || exp.After(now.Add(24*time.Hour)) {
		return "", fmt.Errorf("exp %v is not within 24 h", exp)
	}
	if !strings.HasPrefix(claims.Sub, "mailto:") && !strings.HasPrefix(claims.Sub, "https:") {
		return "", fmt.Errorf("sub %q", claims.Sub)
	}
	return k, nil
}

func decodeJSON(s string, v any) error {
	b, err := b64.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Received is one message the test push service accepted.
type Received struct {
	Name     string // the subscription
	Msg      *davpush.ParsedMessage
	VAPIDKey string
	Topic    string // the Topic header
	Urgency  string
	TTL      string
	// At is when the service decrypted it.
	At time.Time
}

// Service is a Web Push service in the test process: it holds each
// subscription's private key, verifies the VAPID token, decrypts with
// Decrypt and records the push-message.
type Service struct {
	t testing.TB
	// Server is the push service; push resources are Server.URL/push/NAME.
	Server *httptest.Server

	mu   sync.Mutex
	subs map[string]*subscriber
	got  []Received
	// Status, when set, chooses the answer to a POST to subscription name
	// (201 accepts it).
	Status func(name string) int
	notify chan Received
}

type subscriber struct {
	priv *ecdh.PrivateKey
	auth []byte
}

// New starts a Service, closed when the test ends.
func New(t testing.TB) *Service {
	s := &Service{t: t, subs: map[string]*subscriber{}, notify: make(chan Received, 100000)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Server.Close)
	return s
}

// Subscribe makes a subscription named name and returns its push
// resource, public key and auth secret.
func (s *Service) Subscribe(name string) (resource string, pub, auth []byte) {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	auth = make([]byte, 16)
	rand.Read(auth)
	s.mu.Lock()
	s.subs[name] = &subscriber{priv: priv, auth: auth}
	s.mu.Unlock()
	return s.Server.URL + "/push/" + name, priv.PublicKey().Bytes(), auth
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/push/")
	s.mu.Lock()
	sub := s.subs[name]
	status := s.Status
	s.mu.Unlock()
	if sub == nil {
		http.Error(w, "no such subscription", http.StatusNotFound)
		return
	}
	if status != nil {
		if code := status(name); code != http.StatusCreated {
			w.WriteHeader(code)
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<10))
	if err != nil {
		s.t.Errorf("read: %v", err)
		return
	}
	if r.Header.Get("Content-Encoding") != "aes128gcm" || r.Header.Get("TTL") == "" {
		s.t.Errorf("headers %v", r.Header)
	}
	k, err := VerifyVAPID(r.Header.Get("Authorization"), "http://"+r.Host+r.URL.Path, time.Now())
	if err != nil {
		s.t.Errorf("VAPID: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	pt, err := Decrypt(body, sub.priv, sub.auth)
	if err != nil {
		s.t.Errorf("decrypt: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	msg, err := davpush.ParseMessage(pt)
	if err != nil {
		s.t.Errorf("push-message: %v\n%s", err, pt)
		return
	}
	rc := Received{Name: name, Msg: msg, VAPIDKey: k, Topic: r.Header.Get("Topic"), Urgency: r.Header.Get("Urgency"), TTL: r.Header.Get("TTL"), At: time.Now()}
	s.mu.Lock()
	s.got = append(s.got, rc)
	s.mu.Unlock()
	s.notify <- rc
	w.WriteHeader(http.StatusCreated)
}

// Messages returns what subscription name received so far.
func (s *Service) Messages(name string) []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Received
	for _, r := range s.got {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// Await waits for a message to name satisfying ok.
func (s *Service) Await(name string, ok func(Received) bool) Received {
	s.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		for _, r := range s.Messages(name) {
			if ok(r) {
				return r
			}
		}
		select {
		case <-s.notify:
		case <-deadline:
			s.t.Fatalf("%s received no such message; got %+v", name, s.Messages(name))
		}
	}
}

package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/almanac/almanac/engine"
)

// Cookie names.
const (
	sessionCookie = "almanac_session"
	// loginCookie carries the sign-in form's CSRF token (double submit):
	// there is no session yet to hold it.
	loginCookie = "almanac_login"
)

// session is a signed-in browser.
type session struct {
	key     [32]byte // SHA-256 of the cookie's id
	user    string
	csrf    string
	created time.Time
	// external is the account the authenticator made up for a user the
	// engine has no account of (an htpasswd or directory user) at sign-in;
	// nil for an engine account, which every request looks up again.
	external *engine.User

	mu    sync.Mutex // guards the fields below
	seen  time.Time
	flash string
}

// short is a non-secret name of the session for the log's request ids.
func (s *session) short() string { return base64.RawURLEncoding.EncodeToString(s.key[:6]) }

func (s *session) checkCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}

func (s *session) setFlash(msg string) {
	s.mu.Lock()
	s.flash = msg
	s.mu.Unlock()
}

// takeFlash returns the flash message once.
func (s *session) takeFlash() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flash
	s.flash = ""
	return f
}

// sessionStore holds the sessions in memory, at most max of them, at
// most MaxUserSessions of one user.
type sessionStore struct {
	max            int
	idle, lifetime time.Duration

	mu     sync.Mutex
	m      map[[32]byte]*session
	byUser map[string]int // sessions in m by user
}

// MaxUserSessions bounds the sessions of one user: past it their least
// recently used one is dropped. Without it one user signing in again and
// again (a cached password costs no hash) would fill the store and push
// every other user's session out.
const MaxUserSessions = 50

func newSessionStore(max int, idle, lifetime time.Duration) *sessionStore {
	return &sessionStore{max: max, idle: idle, lifetime: lifetime, m: map[[32]byte]*session{}, byUser: map[string]int{}}
}

// remove deletes s from the store; st.mu is held.
func (st *sessionStore) remove(s *session) {
	delete(st.m, s.key)
	if st.byUser[s.user]--; st.byUser[s.user] <= 0 {
		delete(st.byUser, s.user)
	}
}

// leastRecent returns the least recently used session of user ("": of
// anyone), dropping the expired ones it meets; st.mu is held.
func (st *sessionStore) leastRecent(user string, now time.Time) *session {
	var oldest *session
	for _, o := range st.m {
		if st.expired(o, now) {
			st.remove(o)
			continue
		}
		if (user == "" || o.user == user) && (oldest == nil || o.lastSeen().Before(oldest.lastSeen())) {
			oldest = o
		}
	}
	return oldest
}

// randomToken returns 32 random bytes in base64url.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create makes a new session for user and sets its cookie. A user with
// MaxUserSessions first loses their least recently used one; a full
// store first drops expired sessions, then the least recently used one.
func (st *sessionStore) create(w http.ResponseWriter, r *http.Request, user string, now time.Time, secure bool) *session {
	id := randomToken()
	s := &session{key: sha256.Sum256([]byte(id)), user: user, csrf: randomToken(), created: now, seen: now}
	st.mu.Lock()
	if st.byUser[user] >= MaxUserSessions {
		if oldest := st.leastRecent(user, now); oldest != nil && st.byUser[user] >= MaxUserSessions {
			st.remove(oldest)
		}
	}
	if len(st.m) >= st.max {
		if oldest := st.leastRecent("", now); oldest != nil && len(st.m) >= st.max {
			st.remove(oldest)
		}
	}
	st.m[s.key] = s
	st.byUser[user]++
	st.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		Secure: secure || r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: int(st.lifetime / time.Second)})
	return s
}

func (s *session) lastSeen() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen
}

func (st *sessionStore) expired(s *session, now time.Time) bool {
	lifetime := st.lifetime
	if s.external != nil {
		lifetime = min(lifetime, externalLifetime)
	}
	return now.Sub(s.lastSeen()) > st.idle || now.Sub(s.created) > lifetime
}

// externalLifetime bounds the session of a user without an engine account:
// nothing can say, without their password, that the htpasswd file or the
// directory still holds them, so they sign in again within the hour (DAV
// checks their password on every request).
const externalLifetime = time.Hour

// get returns the live session of r's cookie, or nil.
func (st *sessionStore) get(r *http.Request, now time.Time) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil
	}
	key := sha256.Sum256([]byte(c.Value))
	st.mu.Lock()
	s := st.m[key]
	if s != nil && st.expired(s, now) {
		st.remove(s)
		s = nil
	}
	st.mu.Unlock()
	if s != nil {
		s.mu.Lock()
		s.seen = now
		s.mu.Unlock()
	}
	return s
}

// drop ends s.
func (st *sessionStore) drop(s *session) {
	st.mu.Lock()
	if st.m[s.key] == s {
		st.remove(s)
	}
	st.mu.Unlock()
}

// dropUser ends every session of user (a password reset, a disabled
// account).
func (st *sessionStore) dropUser(user string) {
	st.mu.Lock()
	for _, s := range st.m {
		if s.user == user {
			st.remove(s)
		}
	}
	st.mu.Unlock()
}

// count is the number of sessions kept.
func (st *sessionStore) count() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.m)
}

// clearCookie expires the session cookie in the browser.
func clearCookie(w http.ResponseWriter, r *http.Request, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		Secure: secure || r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

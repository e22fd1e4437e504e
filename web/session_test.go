package web

import (
	"net/http/httptest"
	"testing"
	"time"
)

// TestUserSessionBound: one user signing in again and again keeps at
// most MaxUserSessions sessions, losing their own least recently used
// one, and never pushes another user's session out of the store; a full
// store still drops its least recently used session.
func TestUserSessionBound(t *testing.T) {
	st := newSessionStore(MaxUserSessions+10, time.Hour, 24*time.Hour)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	create := func(user string) *session {
		now = now.Add(time.Second)
		return st.create(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil), user, now, false)
	}
	bob := create("bob")
	first := create("mallory")
	for range 10 * MaxUserSessions {
		create("mallory")
	}
	if got := st.byUser["mallory"]; got != MaxUserSessions {
		t.Errorf("mallory has %d sessions, want %d", got, MaxUserSessions)
	}
	if st.m[bob.key] != bob {
		t.Error("mallory's sign-ins pushed bob's session out")
	}
	if st.m[first.key] != nil {
		t.Error("mallory's least recently used session was kept")
	}
	if got := st.count(); got != MaxUserSessions+1 {
		t.Errorf("%d sessions, want %d", got, MaxUserSessions+1)
	}
	// A full store drops its least recently used session (bob's).
	for i := range 10 {
		create(string(rune('a' + i)))
	}
	if st.m[bob.key] != nil || st.count() != MaxUserSessions+10 {
		t.Errorf("full store: bob kept %v, %d sessions; want bob dropped, %d", st.m[bob.key] != nil, st.count(), MaxUserSessions+10)
	}
	// The counts follow every way out.
	st.dropUser("mallory")
	st.drop(bob) // gone already: no count goes below zero
	if _, ok := st.byUser["mallory"]; ok || len(st.byUser) != len(st.m) {
		t.Errorf("after dropUser: byUser %v for %d sessions", st.byUser, len(st.m))
	}
}

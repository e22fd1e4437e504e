package feed

import (
	"context"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeBearer accepts the JWT-shaped "h.alice.s" for alice; "h.down.s" is
// an issuer that does not answer.
type fakeBearer struct{ db *engine.DB }

type downErr struct{}

func (downErr) Error() string           { return "issuer down" }
func (downErr) ServiceUnavailable() int { return 10 }

func (f fakeBearer) AuthenticateBearer(_ context.Context, tok, _, _ string) (*engine.User, error) {
	switch tok {
	case "h.alice.s":
		return f.db.User("alice")
	case "h.down.s":
		return nil, downErr{}
	}
	return nil, errBad
}

// TestOIDCBearer: a token that is no API token is checked by
// Options.Bearer, and Subscribe streams as its user; a refused token is
// Unauthenticated, an issuer down Unavailable; API tokens still go to the
// engine's token index.
func TestOIDCBearer(t *testing.T) {
	db := MustOpenDB(t)
	MustPut(t, db, "alice", "a.ics")
	ts := MustServe(t, db, Options{Bearer: fakeBearer{db}})
	s, err := ts.client(t, basicCreds{"Bearer h.alice.s"}).Subscribe(bg, &feedv1.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatalf("subscribe with a bearer token: %v", err)
	}
	for tok, want := range map[string]codes.Code{"h.bob.s": codes.Unauthenticated, "h.down.s": codes.Unavailable, "id.secret": codes.Unauthenticated} {
		s, err := ts.client(t, basicCreds{"Bearer " + tok}).Subscribe(bg, &feedv1.SubscribeRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		if got := status.Code(err); got != want {
			t.Errorf("token %q: code %v (%v), want %v", tok, got, err, want)
		}
	}
}

// TestBusyLoginUnavailable: a login the verifier could not take in time
// (every password-hashing slot busy) is Unavailable with a message naming
// the limit and when to retry, not Unauthenticated.
func TestBusyLoginUnavailable(t *testing.T) {
	db := MustOpenDB(t)
	ts := MustServe(t, db, Options{})
	s, err := ts.client(t, basic("alice", "busy")).Subscribe(bg, &feedv1.SubscribeRequest{})
	if err == nil {
		_, err = s.Recv()
	}
	if got := status.Code(err); got != codes.Unavailable {
		t.Errorf("code %v (%v), want Unavailable", got, err)
	}
	if msg, want := status.Convert(err).Message(), "all 2 password-hashing slots stayed busy for 5s; retry in 5 seconds"; !strings.Contains(msg, want) {
		t.Errorf("message %q, want it to contain %q", msg, want)
	}
}

package feed

import (
	"strings"
	"testing"

	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/nats-io/nats-server/v2/server"
)

func TestEscapeToken(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"", "%"},
		{"alice@example.com", "alice%40example%2Ecom"},
		{"work/sub", "work%2Fsub"},
		{"a b*c>d", "a%20b%2Ac%3Ed"},
		{"100%", "100%25"},
		{"jürgen", "j%C3%BCrgen"},
		{"Team_A-1", "Team_A-1"},
	} {
		got := EscapeToken(tc.in)
		if got != tc.want {
			t.Errorf("EscapeToken(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !server.IsValidLiteralSubject(got) || strings.Contains(got, ".") {
			t.Errorf("EscapeToken(%q) = %q is not a valid subject token", tc.in, got)
		}
		back, err := UnescapeToken(got)
		if err != nil || back != tc.in {
			t.Errorf("UnescapeToken(%q) = %q %v, want %q", got, back, err, tc.in)
		}
	}
	for _, bad := range []string{"%4", "%GG", "a%2", "a%"} {
		if _, err := UnescapeToken(bad); err == nil {
			t.Errorf("UnescapeToken(%q) accepted", bad)
		}
	}
}

func FuzzEscapeToken(f *testing.F) {
	for _, s := range []string{"", "alice", "a.b", "%", "/dav/home/x/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := EscapeToken(s)
		if !server.IsValidLiteralSubject(tok) || strings.ContainsAny(tok, ". \t") {
			t.Fatalf("EscapeToken(%q) = %q is not a valid token", s, tok)
		}
		if back, err := UnescapeToken(tok); err != nil || back != s {
			t.Fatalf("round trip %q -> %q -> %q %v", s, tok, back, err)
		}
	})
}

func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		ch   *feedv1.Change
		want string
	}{
		{&feedv1.Change{Principal: "alice", Kind: feedv1.Kind_KIND_CALENDAR, Collection: "/dav/home/alice/calendar/", Op: feedv1.Op_OP_OBJECT_PUT},
			"almanac.alice.calendar.calendar.put"},
		{&feedv1.Change{Principal: "bob.smith", Kind: feedv1.Kind_KIND_CONTACTS, Collection: "/dav/home/bob.smith/contacts/", Op: feedv1.Op_OP_OBJECT_DELETED},
			"almanac.bob%2Esmith.contacts.contacts.delete"},
		{&feedv1.Change{Principal: "alice", Kind: feedv1.Kind_KIND_HOME, Collection: "/dav/home/alice/", Op: feedv1.Op_OP_COLLECTION_CREATED},
			"almanac.alice.home.%.collection-created"},
		{&feedv1.Change{Principal: "alice", Kind: feedv1.Kind_KIND_CALENDAR, Collection: "/dav/home/alice/work/2026/", Op: feedv1.Op_OP_OBJECT_MOVED},
			"almanac.alice.calendar.work%2F2026.move"},
		{&feedv1.Change{Principal: "", Kind: feedv1.Kind_KIND_PLAIN, Collection: "/shared/", Op: feedv1.Op_OP_COLLECTION_PROPS_CHANGED},
			"almanac.%.plain.%2Fshared.props-changed"},
		{&feedv1.Change{Principal: "alice", Op: feedv1.Op_OP_IMIP_QUEUED, Schedule: &feedv1.Schedule{Recipient: "mailto:ext@mail.test"}},
			"almanac.alice.email.ext%40mail%2Etest.imip-queued"},
	} {
		if got := Subject(tc.ch); got != tc.want {
			t.Errorf("Subject(%v) = %q, want %q", tc.ch, got, tc.want)
		}
	}
}

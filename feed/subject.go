package feed

import (
	"fmt"
	"strings"

	"github.com/almanac/almanac/change"
	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
)

// SubjectPrefix is the first token of every subject the publisher uses.
const SubjectPrefix = "almanac"

// Subject returns the NATS subject of a change:
//
//	almanac.<principal>.<kind>.<collection>.<op>
//
// principal is the owner of the (source) collection; kind is calendar,
// contacts, home or plain; collection is the collection's path relative to
// the owner's home /dav/home/<principal>/ without the trailing slash
// ("calendar", "work/sub"), or the whole path without it when the
// collection lies outside the home; op is put, delete, move,
// collection-created, collection-deleted, props-changed, purge,
// share-granted, share-revoked, share-replied, link-created,
// link-revoked, or schedule-request, schedule-reply, schedule-cancel,
// schedule-add (a delivery into a schedule inbox). An email (iMIP) has no
// collection: its subject is almanac.<user>.email.<recipient>.imip-queued
// (or imip-failed), the recipient's address without mailto:. Every
// variable token is escaped with EscapeToken. A move is published under its
// source collection.
func Subject(ch *feedv1.Change) string {
	if ch.Op == feedv1.Op_OP_IMIP_QUEUED || ch.Op == feedv1.Op_OP_IMIP_FAILED {
		return SubjectPrefix + "." + EscapeToken(ch.Principal) + ".email." +
			EscapeToken(strings.TrimPrefix(ch.GetSchedule().GetRecipient(), "mailto:")) + "." + engine.Op(ch.Op).String()
	}
	return SubjectPrefix + "." + EscapeToken(ch.Principal) + "." + kindToken(ch.Kind) + "." +
		EscapeToken(collectionToken(ch.Principal, ch.Collection)) + "." + engine.Op(ch.Op).String()
}

func collectionToken(owner, path string) string {
	if owner != "" {
		if rest, ok := strings.CutPrefix(path, change.HomePrefix+owner+"/"); ok {
			return strings.TrimSuffix(rest, "/")
		}
	}
	return strings.TrimSuffix(path, "/")
}

func kindToken(k feedv1.Kind) string {
	switch k {
	case feedv1.Kind_KIND_CALENDAR:
		return "calendar"
	case feedv1.Kind_KIND_CONTACTS:
		return "contacts"
	case feedv1.Kind_KIND_HOME:
		return "home"
	case feedv1.Kind_KIND_PLAIN:
		return "plain"
	}
	return "unknown"
}

const hexDigits = "0123456789ABCDEF"

// EscapeToken makes s a valid NATS subject token that no other s maps to:
// ASCII letters, digits, '-' and '_' stay; every other byte (including '.',
// '*', '>', '/', '%', spaces and the bytes of non-ASCII characters) becomes
// '%' and two upper-case hex digits; the empty string becomes "%". So
// "alice@example.com" is "alice%40example%2Ecom" and "work/sub" is
// "work%2Fsub".
func EscapeToken(s string) string {
	if s == "" {
		return "%"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xF])
	}
	return b.String()
}

// UnescapeToken reverses EscapeToken.
func UnescapeToken(tok string) (string, error) {
	if tok == "%" {
		return "", nil
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		if tok[i] != '%' {
			b.WriteByte(tok[i])
			continue
		}
		if i+2 >= len(tok) {
			return "", fmt.Errorf("feed: token %q: truncated escape at %d", tok, i)
		}
		hi, lo := strings.IndexByte(hexDigits, tok[i+1]), strings.IndexByte(hexDigits, tok[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("feed: token %q: bad escape at %d", tok, i)
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), nil
}

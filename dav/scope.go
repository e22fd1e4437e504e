package dav

import (
	"context"
	"slices"
	"strings"

	"github.com/almanac/almanac/engine"
)

// DeviceAuthenticator is an Authenticator that also accepts app passwords
// (per-device passwords, engine.AppPassword); *auth.Verifier implements
// it. The Handler uses it when Options.Auth does.
type DeviceAuthenticator interface {
	// AuthenticateDevice returns the user whose password matches and, when
	// it was one of the user's app passwords, that app password (nil for
	// the main password).
	AuthenticateDevice(ctx context.Context, user, password, remoteAddr, userAgent string) (*engine.User, *engine.AppPassword, error)
}

// inScope reports whether the collection path (or a path under it) is
// within the scope of the app password p: always for nil or an unlimited
// one; for one limited to collections, only below one of them (never
// "", which stands for the home's mounts).
func inScope(p *engine.AppPassword, path string) bool {
	if p == nil || len(p.Collections) == 0 {
		return true
	}
	return path != "" && slices.ContainsFunc(p.Collections, func(c string) bool { return strings.HasPrefix(path, c) })
}

// limitToScope narrows st.acc to what the request's app password may do:
// at most read for a read-only one, and for one limited to collections,
// nothing outside them (404, as for a path that does not exist) and at
// most read of the home itself (its listing, for discovery, names only
// the collections in scope: propfindMembers). The limits apply to the
// owner's path: a mount in the home is outside any list.
func (st *reqState) limitToScope() {
	p := st.app
	if p == nil || st.acc == accessNone {
		return
	}
	if len(p.Collections) > 0 {
		path := st.tgt.collPath()
		switch {
		case inScope(p, path):
		case st.tgt.isHome() && path == homePath(st.user):
			st.acc = min(st.acc, accessRead)
		default:
			st.acc = accessNone
			return
		}
	}
	if p.ReadOnly {
		st.acc = min(st.acc, accessRead)
	}
}

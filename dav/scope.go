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

// limitToScope narrows st.acc to what the request's app password may do:
// at most read for a read-only one, and for one limited to collections,
// nothing outside them (404, as for a path that does not exist) and at
// most read of the home itself (its listing, for discovery). The limits
// apply to the owner's path: a mount in the home is outside any list.
func (st *reqState) limitToScope() {
	p := st.app
	if p == nil || st.acc == accessNone {
		return
	}
	if len(p.Collections) > 0 {
		path := st.tgt.collPath()
		in := slices.ContainsFunc(p.Collections, func(c string) bool { return strings.HasPrefix(path, c) })
		switch {
		case in:
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

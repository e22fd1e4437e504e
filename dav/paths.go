package dav

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// targetKind says which part of the URL space a request addresses.
type targetKind int

const (
	targetRoot          targetKind = iota // /dav/
	targetPrincipals                      // /dav/principals/
	targetPrincipal                       // /dav/principals/U/
	targetHome                            // /dav/home/U/ and everything below
	targetNotifications                   // /dav/notifications/U/ and its members
)

// target is a parsed request path.
type target struct {
	kind targetKind
	// segs are the unescaped segments after /dav/.
	segs []string
	// slash is set when the path ended with "/".
	slash bool
}

// collPath returns the engine collection path the target would have as a
// collection: "/dav/" + segments + "/".
func (t target) collPath() string {
	return collPathOf(t.segs)
}

// parent returns the collection path of the target's parent and the
// target's last segment (an object name).
func (t target) parent() (string, string) {
	return collPathOf(t.segs[:len(t.segs)-1]), t.segs[len(t.segs)-1]
}

// isHome reports whether the target is the home collection itself.
func (t target) isHome() bool { return t.kind == targetHome && len(t.segs) == 2 }

func collPathOf(segs []string) string {
	if len(segs) == 0 {
		return "/dav/"
	}
	return "/dav/" + strings.Join(segs, "/") + "/"
}

// homePath is the engine path of user's home.
func homePath(user string) string { return "/dav/home/" + user + "/" }

// principalPath is the URL path of user's principal.
func principalPath(user string) string { return "/dav/principals/" + user + "/" }

// parseTarget parses an escaped request path for user. Traversal ("." and
// ".." segments, also percent-encoded), encoded slashes inside a segment,
// NUL bytes and malformed escapes get 400. Every principal and every home
// is addressable here: lookup answers 404 for a principal that does not
// exist, and the privilege resolution (access.go) 404 for a path in a home
// the user has no access to, so what other users keep never shows. Paths
// outside the DAV tree get 404.
func parseTarget(escaped, user string) (target, error) {
	segs, slash, err := splitPath(escaped)
	if err != nil {
		return target{}, err
	}
	if len(segs) == 0 || segs[0] != "dav" {
		return target{}, errNotFound
	}
	t := target{segs: segs[1:], slash: slash}
	switch {
	case len(t.segs) == 0:
		t.kind = targetRoot
	case t.segs[0] == "principals" && len(t.segs) == 1:
		t.kind = targetPrincipals
	case t.segs[0] == "principals" && (len(t.segs) == 2 || len(t.segs) == 3):
		t.kind = targetPrincipal // with a third segment, a proxy sub-principal (proxy.go)
	case t.segs[0] == "home" && len(t.segs) >= 2:
		t.kind = targetHome
	case t.segs[0] == "notifications" && (len(t.segs) == 2 || len(t.segs) == 3) && t.segs[1] == user:
		t.kind = targetNotifications
	default:
		return target{}, errNotFound
	}
	return t, nil
}

// splitPath splits an escaped absolute path into unescaped segments,
// dropping empty ones (double slashes).
func splitPath(escaped string) ([]string, bool, error) {
	if !strings.HasPrefix(escaped, "/") {
		return nil, false, httpErrorf(http.StatusBadRequest, "path %q is not absolute", escaped)
	}
	slash := strings.HasSuffix(escaped, "/")
	var segs []string
	for _, raw := range strings.Split(escaped[1:], "/") {
		if raw == "" {
			continue
		}
		lower := strings.ToLower(raw)
		if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
			return nil, false, httpErrorf(http.StatusBadRequest, "encoded slash in path segment %q", raw)
		}
		seg, err := url.PathUnescape(raw)
		if err != nil {
			return nil, false, httpErrorf(http.StatusBadRequest, "malformed path segment %q", raw)
		}
		if seg == "." || seg == ".." || strings.ContainsAny(seg, "\x00/\\") {
			return nil, false, httpErrorf(http.StatusBadRequest, "path segment %q is not allowed", raw)
		}
		segs = append(segs, seg)
	}
	return segs, slash, nil
}

// hrefPath turns a DAV:href or Destination value (a path or an absolute
// URL) into an escaped path.
func hrefPath(href string) (string, error) {
	href = strings.TrimSpace(href)
	u, err := url.Parse(href)
	if err != nil {
		return "", httpErrorf(http.StatusBadRequest, "malformed href %q", href)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", httpErrorf(http.StatusBadRequest, "href %q has a query or fragment", href)
	}
	return u.EscapedPath(), nil
}

// splitCollPath splits an engine collection path "/dav/a/b/" into the
// segments after /dav/.
func splitCollPath(p string) []string {
	p = strings.TrimSuffix(strings.TrimPrefix(p, "/dav/"), "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// checkLengths refuses a target whose path, or one of whose segments, is
// longer than the engine stores (engine.Limits MaxNameLength and
// MaxPathLength; the engine checks again on every write): 414 URI Too
// Long, as RFC 9110 §15.5.15 has it for a target URI longer than the
// server is willing to interpret. No resource can exist at such a path,
// so every method gets it, reads included.
func (h *Handler) checkLengths(t target) error {
	if err := h.lengthError(t); err != nil {
		return httpErrorf(http.StatusRequestURITooLong, "%s", err)
	}
	return nil
}

// lengthError says what of t is over the name limits, or nil.
func (h *Handler) lengthError(t target) error {
	lim := h.db.Limits()
	n := len("/dav/")
	for _, s := range t.segs {
		if len(s) > lim.MaxNameLength {
			return fmt.Errorf("a path segment of %d bytes exceeds the limit of %d", len(s), lim.MaxNameLength)
		}
		n += len(s) + 1
	}
	if n > lim.MaxPathLength {
		return fmt.Errorf("a path of %d bytes exceeds the limit of %d", n, lim.MaxPathLength)
	}
	return nil
}

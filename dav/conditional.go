package dav

import (
	"net/http"
	"strings"

	"github.com/almanac/almanac/engine"
)

// etagList splits an If-Match or If-None-Match header into its entity
// tags (RFC 9110 §13.1.1).
func etagList(h string) []string {
	var out []string
	for _, t := range strings.Split(h, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// ifMatch resolves an If-Match header against the current object cur
// (nil when absent) to the single ETag the engine checks atomically: "",
// "*", or cur's ETag when the header lists it. Weak tags never match
// (strong comparison, RFC 9110 §13.1.1). A list that cannot match gives
// 412 right away.
func ifMatch(header string, cur *engine.Object) (string, error) {
	tags := etagList(header)
	switch {
	case len(tags) == 0:
		return "", nil
	case len(tags) == 1 && tags[0] == "*":
		return "*", nil
	case len(tags) == 1:
		return tags[0], nil
	}
	if cur != nil {
		for _, t := range tags {
			if t == cur.ETag {
				return t, nil
			}
		}
	}
	return "", httpErrorf(http.StatusPreconditionFailed, "If-Match: no listed entity tag matches")
}

// noneMatch reports whether an If-None-Match header matches cur (weak
// comparison): "*" matches any existing object.
func noneMatch(header string, cur *engine.Object) bool {
	if cur == nil {
		return false
	}
	for _, t := range etagList(header) {
		if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(cur.ETag, "W/") {
			return true
		}
	}
	return false
}

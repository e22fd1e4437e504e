package dav

import (
	"net/http"
	"strconv"
	"strings"
)

// acceptsGzip reports whether the request's Accept-Encoding allows a
// gzip-coded answer (RFC 9110 §12.5.3), written by hand because the
// standard library has no content negotiation and the rules are few:
//
//   - No Accept-Encoding (or an empty one): identity only.
//   - "gzip" and "x-gzip" (RFC 9110 §8.4.1.3) name gzip; "*" stands for
//     every coding not listed. A weight of 0 ("q=0", "q=0.000") means not
//     acceptable, and refusing wins: gzip listed once with q=0 is refused
//     whatever else lists it. An entry whose weight is not a valid qvalue
//     is ignored.
//   - When gzip is acceptable it is chosen unless identity is explicitly
//     ("identity;q=…" or "*;q=…") preferred with a higher weight.
//   - When neither gzip nor identity is acceptable ("gzip;q=0,
//     identity;q=0") the answer is sent uncoded, as §12.5.3 allows, rather
//     than refused.
func acceptsGzip(r *http.Request) bool {
	return negotiateGzip(r.Header.Values("Accept-Encoding"))
}

func negotiateGzip(values []string) bool {
	gzipQ, starQ, identityQ := -1.0, -1.0, -1.0
	gzipRefused := false
	for _, v := range values {
		for entry := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(entry, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			q, ok := weight(params)
			if !ok || name == "" {
				continue
			}
			switch name {
			case "gzip", "x-gzip":
				gzipQ = max(gzipQ, q)
				gzipRefused = gzipRefused || q == 0
			case "identity":
				identityQ = max(identityQ, q)
			case "*":
				starQ = max(starQ, q)
			}
		}
	}
	if gzipRefused {
		return false
	}
	if gzipQ < 0 {
		gzipQ = starQ
	}
	if identityQ < 0 {
		identityQ = starQ
	}
	return gzipQ > 0 && gzipQ >= identityQ
}

// weight returns the qvalue of an entry's parameters (";q=0.5"), 1 when it
// has none; ok is false for a malformed one. qvalue = ("0" ["." 0*3DIGIT])
// / ("1" ["." 0*3("0")]) (RFC 9110 §12.4.2).
func weight(params string) (q float64, ok bool) {
	q = 1
	for p := range strings.SplitSeq(params, ";") {
		k, v, found := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		if !found || !validQValue(v) {
			return 0, false
		}
		q, _ = strconv.ParseFloat(v, 64) // valid by validQValue
	}
	return q, true
}

func validQValue(v string) bool {
	if v == "" || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
		return false
	}
	if len(v) == 1 {
		return true
	}
	if v[1] != '.' {
		return false
	}
	for _, c := range v[2:] {
		if c < '0' || c > '9' || (v[0] == '1' && c != '0') {
			return false
		}
	}
	return true
}

package auth

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies are the networks of reverse proxies whose
// X-Forwarded-For header is believed. Its zero value trusts none: the
// client's address is then the connection's, and X-Forwarded-For is
// ignored (any client can write one). It implements flag.Value as a
// comma-separated list of CIDR prefixes or single addresses.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes
// ("10.0.0.0/8") or addresses ("192.0.2.1", "::1"). Blank items are
// skipped.
func ParseTrustedProxies(s string) (TrustedProxies, error) {
	var p TrustedProxies
	err := p.Set(s)
	return p, err
}

// Set replaces the list with s (flag.Value).
func (p *TrustedProxies) Set(s string) error {
	var prefixes []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			pfx, err := netip.ParsePrefix(item)
			if err != nil {
				return fmt.Errorf("auth: trusted proxy %q: %w", item, err)
			}
			prefixes = append(prefixes, pfx.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return fmt.Errorf("auth: trusted proxy %q: %w", item, err)
		}
		a = a.Unmap()
		prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	p.prefixes = prefixes
	return nil
}

// String returns the list as Set takes it (flag.Value).
func (p *TrustedProxies) String() string {
	if p == nil {
		return ""
	}
	s := make([]string, len(p.prefixes))
	for i, pfx := range p.prefixes {
		s[i] = pfx.String()
	}
	return strings.Join(s, ",")
}

// Empty reports whether no proxy is trusted.
func (p TrustedProxies) Empty() bool { return len(p.prefixes) == 0 }

func (p TrustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, pfx := range p.prefixes {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr returns the address of the client of r, without port. When
// the connection comes from a trusted proxy, it is the right-most address
// of X-Forwarded-For (all its lines, in order) that is not itself a
// trusted proxy: the addresses left of it were written by the client or
// by proxies we do not know, and are not believed. When every address is
// trusted it is the left-most; when an entry is not an address, the
// trusted hop after it.
func (p TrustedProxies) ClientAddr(r *http.Request) string {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || p.Empty() || !p.trusts(peer) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = a
		if !p.trusts(a) {
			break
		}
	}
	return client.Unmap().String()
}

// parseHop parses one X-Forwarded-For entry: an address, possibly with a
// port ("192.0.2.1:443", "[2001:db8::1]:443").
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	return netip.Addr{}, false
}

// Handler returns next with each request's RemoteAddr set to its client's
// address (ClientAddr), so that the login limiter, the logs and every
// handler behind it see the client, not the proxy. Without trusted
// proxies it returns next unchanged.
func (p TrustedProxies) Handler(next http.Handler) http.Handler {
	if p.Empty() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if client := p.ClientAddr(r); client != remoteHost(r.RemoteAddr) {
			r = r.WithContext(r.Context()) // a shallow copy
			r.RemoteAddr = client
		}
		next.ServeHTTP(w, r)
	})
}

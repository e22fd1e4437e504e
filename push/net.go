package push

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// A push resource is a URL a user hands the server, which then POSTs to
// it: without care, a way to reach the server's own network (SSRF). By
// default the sender POSTs only over https and only to public addresses,
// checked on the address actually dialled (after DNS), so a name that
// resolves to 127.0.0.1 or 10.x is refused too.

// errPrivate is the dial error for an address the sender may not reach.
var errPrivate = errors.New("push: the push resource is on a loopback, private or link-local address")

// checkEndpoint refuses a push resource the sender would not reach: http,
// or a literal private address or "localhost", unless allowPrivate.
func checkEndpoint(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("the push resource %q is not an absolute URL", raw)
	}
	if allowPrivate {
		return nil
	}
	if u.Scheme != "https" {
		return errors.New("the push resource must be an https URL (serve --push-private-endpoints allows http)")
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return errPrivateEndpoint
	}
	if a, err := netip.ParseAddr(host); err == nil && !public(a) {
		return errPrivateEndpoint
	}
	return nil
}

var errPrivateEndpoint = errors.New("the push resource names a loopback, private or link-local address (serve --push-private-endpoints allows it)")

// public reports whether a may be dialled without AllowPrivate.
func public(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && !a.IsLoopback() && !a.IsPrivate() && !a.IsLinkLocalUnicast() && !a.IsLinkLocalMulticast() &&
		!a.IsUnspecified() && !a.IsMulticast() && !a.IsInterfaceLocalMulticast() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(a) // carrier-grade NAT
}

// newClient returns the sender's HTTP client: every request bounded by
// timeout, no redirects (a push service answers, it does not redirect),
// and unless allowPrivate, only public addresses dialled.
func newClient(timeout time.Duration, allowPrivate bool, conns int) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !public(ap.Addr()) {
				return errPrivate
			}
			return nil
		}
	}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           func(ctx context.Context, n, a string) (net.Conn, error) { return d.DialContext(ctx, n, a) },
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   conns, // one push service takes every POST
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport:     t,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

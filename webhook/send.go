package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// FormatSecret returns a webhook key in the Standard Webhooks form shown to
// its owner: "whsec_" + base64.
func FormatSecret(key []byte) string { return "whsec_" + base64.StdEncoding.EncodeToString(key) }

// Sign returns the webhook-signature header of a message: "v1," + the
// base64 HMAC-SHA256 of id, ".", the timestamp in decimal, ".", body.
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ErrForbiddenAddress is the dial error of a user's webhook whose host
// resolves to an address inside the network (see Options.AllowPrivate).
var ErrForbiddenAddress = errors.New("webhook: address not allowed for a user's webhook (loopback, private, link-local or multicast)")

// cgnat is RFC 6598's shared address space, private in all but name.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// internal reports whether a is an address a user's webhook may not reach.
func internal(a netip.Addr) bool {
	a = a.Unmap()
	return !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || cgnat.Contains(a)
}

// guard refuses, at connect time (after DNS), an address internal reports.
func guard(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	if internal(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
	}
	return nil
}

// newClient returns the HTTP client of webhooks: no proxy (a proxy would
// dial for us, past the guard), no redirects, keep-alive to each receiver.
// guarded clients refuse internal addresses.
func newClient(guarded bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if guarded {
		d.Control = guard
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 0, // the attempt's context bounds it
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// StatusError is a receiver's answer other than 2xx.
type StatusError struct {
	Status int
	// Body is the start of the answer (at most 256 bytes).
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("webhook: receiver answered %d", e.Status)
	}
	return fmt.Sprintf("webhook: receiver answered %d: %q", e.Status, e.Body)
}

// post sends one signed message and reads at most maxResp bytes of the
// answer.
func post(ctx context.Context, c *http.Client, url string, key []byte, id string, now time.Time, body []byte, maxResp int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: request: %w", err)
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "almanac-webhook")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(key, id, ts, body))
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: post: %w", err)
	}
	defer resp.Body.Close()
	head := make([]byte, 256)
	n, _ := io.ReadFull(resp.Body, head)
	// Drain a short answer so the connection is reused; a longer one is
	// cut (the connection is closed instead).
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, max(maxResp-int64(n), 0)))
	if resp.StatusCode/100 != 2 {
		return &StatusError{Status: resp.StatusCode, Body: string(bytes.ToValidUTF8(head[:n], nil))}
	}
	return nil
}

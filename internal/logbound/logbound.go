// Package logbound bounds the log lines that clients can make a server
// write at will: a failed or refused login, a request without
// credentials. Each such line costs the client one cheap request (a
// locked-out login is refused without a hash), so without a bound a
// flood of them fills the log and its disk, and buries every other line.
//
// A Limiter writes the lines of one kind (one message). In each interval
// it writes at most PerClient lines of one client (an IP address; an IPv6
// address counts with its /64, which one host can hold whole) and at
// most Total lines in all; it counts the others, and the first line of
// that kind written after the interval is preceded by one line saying
// how many were left out, and since when:
//
//	level=WARN msg="log lines left out" of="authentication failed" count=4711 since=2026-12-06T10:00:00Z
//
// Counters (metrics) are kept by the callers and stay exact. A client
// within its budget is logged as before, whatever others do past theirs,
// until Total is reached: fail2ban, which reads failed logins, sees the
// first PerClient failures of every address each interval.
//
// It knows nothing of Almanac; it needs only log/slog.
package logbound

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Defaults of Limits.
const (
	// DefaultInterval is the interval the budgets are counted in.
	DefaultInterval = time.Minute
	// DefaultPerClient is the lines of one kind one client may cause in an
	// interval: more than fail2ban's usual maxretry (5), so a jail
	// reading failed logins still bans.
	DefaultPerClient = 20
	// DefaultTotal is the lines of one kind all clients together may
	// cause in an interval: ten a second, 2 KB/s of log at most.
	DefaultTotal = 600
)

// maxKey bounds the length of a client key that is no IP address.
const maxKey = 64

// Limits are a Limiter's budgets; a zero field means its default.
type Limits struct {
	// Interval is the period the budgets are counted in.
	Interval time.Duration
	// PerClient bounds the lines of one client key per Interval.
	PerClient int
	// Total bounds the lines of every client per Interval.
	Total int
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Limiter writes the lines of one kind within its Limits. It is safe for
// concurrent use.
type Limiter struct {
	logger *slog.Logger
	level  slog.Level
	msg    string
	limits Limits

	mu      sync.Mutex
	start   time.Time      // of the current interval
	written int            // lines written in it
	clients map[string]int // lines written in it, by client key (at most Total keys)
	// leftOut counts the lines not written since leftSince (the start of
	// the interval of the first of them), for the next summary.
	leftOut   uint64
	leftSince time.Time
}

// New returns a Limiter writing lines of message msg at level to logger.
func New(logger *slog.Logger, level slog.Level, msg string, l Limits) *Limiter {
	if l.Interval <= 0 {
		l.Interval = DefaultInterval
	}
	if l.PerClient <= 0 {
		l.PerClient = DefaultPerClient
	}
	if l.Total <= 0 {
		l.Total = DefaultTotal
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	return &Limiter{logger: logger, level: level, msg: msg, limits: l, clients: map[string]int{}}
}

// Log writes a line of the Limiter's message with attrs if client (a
// remote address, host or host:port, as ClientKey takes it; any other
// string names a client as it is) is within its budget and the total
// is too; otherwise it only counts the line. A level the logger does not
// write costs nothing and is not counted.
func (l *Limiter) Log(ctx context.Context, client string, attrs ...slog.Attr) {
	if !l.logger.Enabled(ctx, l.level) {
		return
	}
	key := ClientKey(client)
	l.mu.Lock()
	now := l.limits.Now()
	if now.Sub(l.start) >= l.limits.Interval || now.Before(l.start) {
		l.start, l.written = now, 0
		clear(l.clients)
	}
	if l.written >= l.limits.Total || l.clients[key] >= l.limits.PerClient {
		if l.leftOut == 0 {
			l.leftSince = l.start
		}
		l.leftOut++
		l.mu.Unlock()
		return
	}
	l.written++
	l.clients[key]++
	leftOut, since := uint64(0), time.Time{}
	if l.leftOut > 0 && l.leftSince.Before(l.start) {
		// Reported once their interval is over, with the first line
		// written after it: at most one summary per interval.
		leftOut, since = l.leftOut, l.leftSince
		l.leftOut = 0
	}
	l.mu.Unlock()
	if leftOut > 0 {
		l.logger.LogAttrs(ctx, l.level, "log lines left out", slog.String("of", l.msg),
			slog.Uint64("count", leftOut), slog.Time("since", since))
	}
	l.logger.LogAttrs(ctx, l.level, l.msg, attrs...)
}

// MaxText bounds a string of the client's (a user name) in a line: a
// request may carry tens of kilobytes of one.
const MaxText = 256

// Cut returns s cut to MaxText bytes, with "…" when it was longer, and
// valid UTF-8.
func Cut(s string) string {
	if len(s) > MaxText {
		return strings.ToValidUTF8(s[:MaxText], "") + "…"
	}
	return s
}

// ClientKey returns the budget key of a remote address: its IP address
// without the port, an IPv6 address cut to its /64 (a host is commonly
// given a whole /64, and could make a new client of every address in
// it), an IPv4-mapped IPv6 address as IPv4. Anything that is no IP
// address is its own key, cut to 64 bytes (a key is kept for the
// interval).
func ClientKey(remote string) string {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host[:min(len(host), maxKey)]
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.WithZone("").Prefix(64)
	return p.String()
}

package logbound

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestLimiter(level slog.Level, l Limits) (*Limiter, *bytes.Buffer, *fakeClock) {
	var buf bytes.Buffer
	clock := &fakeClock{now: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	l.Now = clock.Now
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return New(logger, level, "authentication failed", l), &buf, clock
}

// lines counts the lines of buf with msg=msg from remote (any when "").
func lines(buf *bytes.Buffer, msg, remote string) int {
	n := 0
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, `msg="`+msg+`"`) && (remote == "" || strings.Contains(line, "remote="+remote+" ")) {
			n++
		}
	}
	return n
}

var countRE = regexp.MustCompile(`msg="log lines left out" of="authentication failed" count=(\d+) since=(\S+)`)

// summaries returns the counts and since times of buf's summary lines.
func summaries(buf *bytes.Buffer) (counts []string, since []string) {
	for _, m := range countRE.FindAllStringSubmatch(buf.String(), -1) {
		counts, since = append(counts, m[1]), append(since, m[2])
	}
	return counts, since
}

func logFrom(l *Limiter, remote string, n int) {
	for range n {
		l.Log(context.Background(), remote+":4711", slog.String("remote", remote), slog.String("user", "alice"))
	}
}

// TestPerClient: one client's flood is cut at PerClient lines an
// interval, while another client's lines are all written; the count of
// those left out is logged once, with the first line after the interval.
func TestPerClient(t *testing.T) {
	l, buf, clock := newTestLimiter(slog.LevelWarn, Limits{PerClient: 3, Total: 100})
	logFrom(l, "198.51.100.7", 50)
	logFrom(l, "192.0.2.1", 3)
	if got := lines(buf, "authentication failed", "198.51.100.7"); got != 3 {
		t.Errorf("flooding client: %d lines, want 3", got)
	}
	if got := lines(buf, "authentication failed", "192.0.2.1"); got != 3 {
		t.Errorf("other client: %d lines, want 3 (the flood must not cost it its lines)", got)
	}
	if c, _ := summaries(buf); len(c) != 0 {
		t.Errorf("a summary before the interval ended: %v\n%s", c, buf)
	}
	clock.Advance(30 * time.Second)
	logFrom(l, "192.0.2.2", 1)
	if c, _ := summaries(buf); len(c) != 0 {
		t.Errorf("a summary before the interval ended: %v\n%s", c, buf)
	}
	clock.Advance(30 * time.Second) // the interval is over
	logFrom(l, "198.51.100.7", 5)
	counts, since := summaries(buf)
	if len(counts) != 1 || counts[0] != "47" || since[0] != "2026-12-06T10:00:00.000Z" {
		t.Errorf("summaries %v since %v, want one of 47 since 10:00\n%s", counts, since, buf)
	}
	if got := lines(buf, "authentication failed", "198.51.100.7"); got != 6 {
		t.Errorf("flooding client after the interval: %d lines in all, want 3+3", got)
	}
	// The two left out of this interval are told after it, not before.
	clock.Advance(time.Minute)
	logFrom(l, "192.0.2.1", 1)
	if counts, _ := summaries(buf); len(counts) != 2 || counts[1] != "2" {
		t.Errorf("summaries %v, want 47 then 2\n%s", counts, buf)
	}
}

// TestTotal: many clients within their own budgets are cut at Total
// lines an interval in all.
func TestTotal(t *testing.T) {
	l, buf, clock := newTestLimiter(slog.LevelWarn, Limits{PerClient: 5, Total: 10})
	for i := range 100 {
		logFrom(l, fmt.Sprintf("192.0.2.%d", i), 1)
	}
	if got := lines(buf, "authentication failed", ""); got != 10 {
		t.Errorf("%d lines, want Total 10", got)
	}
	clock.Advance(time.Minute)
	logFrom(l, "192.0.2.1", 1)
	if counts, _ := summaries(buf); len(counts) != 1 || counts[0] != "90" {
		t.Errorf("summaries %v, want one of 90\n%s", counts, buf)
	}
	if len(l.clients) != 1 {
		t.Errorf("%d client keys kept after the interval, want 1", len(l.clients))
	}
}

// TestIPv6Prefix: the addresses of one IPv6 /64 share one budget; an
// IPv4-mapped address counts as its IPv4 address.
func TestIPv6Prefix(t *testing.T) {
	l, buf, _ := newTestLimiter(slog.LevelWarn, Limits{PerClient: 2, Total: 100})
	for i := range 10 {
		l.Log(context.Background(), fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1), slog.String("remote", "v6"), slog.String("user", "x"))
	}
	l.Log(context.Background(), "[2001:db8:1:3::1]:443", slog.String("remote", "v6"), slog.String("user", "x"))
	if got := lines(buf, "authentication failed", "v6"); got != 3 {
		t.Errorf("%d lines, want 2 of the first /64 and 1 of the next", got)
	}
	for _, tc := range []struct{ in, want string }{
		{"198.51.100.7:1234", "198.51.100.7"},
		{"198.51.100.7", "198.51.100.7"},
		{"[::ffff:198.51.100.7]:1", "198.51.100.7"},
		{"2001:db8::1", "2001:db8::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"@", "@"},
		{strings.Repeat("x", 100), strings.Repeat("x", 64)},
		{"", ""},
	} {
		if got := ClientKey(tc.in); got != tc.want {
			t.Errorf("ClientKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestDisabledLevel: lines of a level the logger does not write are
// neither written nor counted as left out.
func TestDisabledLevel(t *testing.T) {
	l, buf, clock := newTestLimiter(slog.LevelDebug, Limits{PerClient: 1, Total: 1})
	logFrom(l, "192.0.2.1", 10)
	clock.Advance(time.Minute)
	logFrom(l, "192.0.2.1", 1)
	if buf.Len() != 0 {
		t.Errorf("debug lines written at level info:\n%s", buf)
	}
	if l.leftOut != 0 {
		t.Errorf("%d debug lines counted as left out", l.leftOut)
	}
}

// TestConcurrent: concurrent clients (run with -race) get exactly the
// budget, and every line is written or counted.
func TestConcurrent(t *testing.T) {
	l, buf, clock := newTestLimiter(slog.LevelWarn, Limits{PerClient: 7, Total: 1000})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			logFrom(l, fmt.Sprintf("192.0.2.%d", i), 100)
		}()
	}
	wg.Wait()
	clock.Advance(time.Minute)
	logFrom(l, "192.0.2.99", 1)
	if got := lines(buf, "authentication failed", ""); got != 8*7+1 {
		t.Errorf("%d lines, want %d", got, 8*7+1)
	}
	if counts, _ := summaries(buf); len(counts) != 1 || counts[0] != fmt.Sprint(8*93) {
		t.Errorf("summaries %v, want one of %d", counts, 8*93)
	}
}

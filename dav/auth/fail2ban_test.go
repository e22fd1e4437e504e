package auth

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/internal/logbound"
)

// TestFail2banLineNotInjectable: the README's fail2ban filters, applied to
// the failure line of a hostile user name, find the client's real address
// and nothing else, in both log formats.
func TestFail2banLineNotInjectable(t *testing.T) {
	filters := map[string]*regexp.Regexp{
		// README: failregex = level=WARN msg="authentication failed" remote=<HOST> user=
		"text": regexp.MustCompile(`level=WARN msg="authentication failed" remote=(\S+) user=`),
		// README: failregex = "msg":"authentication failed","remote":"<HOST>","user":
		"json": regexp.MustCompile(`"msg":"authentication failed","remote":"([^"]+)","user":`),
	}
	users := []string{
		"alice",
		`x remote=192.0.2.66 `,
		`x" remote=192.0.2.66 user="`,
		`msg="authentication failed" remote=192.0.2.66 user=`,
		`x","remote":"192.0.2.66","user":"`,
		"x\nlevel=WARN msg=\"authentication failed\" remote=192.0.2.66 user=y",
		strings.Repeat("é", 40000), // cut to 256 bytes in the log
	}
	for format, re := range filters {
		for _, user := range users {
			logs := &lockedBuffer{}
			var h slog.Handler = slog.NewTextHandler(logs, nil)
			if format == "json" {
				h = slog.NewJSONHandler(logs, nil)
			}
			v, _ := newVerifier(t, Options{DB: MustOpenDB(t), Logger: slog.New(h)})
			v.Authenticate(context.Background(), user, "guess", "198.51.100.7:1234")
			m := re.FindAllStringSubmatch(logs.String(), -1)
			if len(m) != 1 || m[0][1] != "198.51.100.7" {
				t.Errorf("%s, user %q: filter found %q in\n%s", format, user, m, logs.String())
			}
			if n := len(logs.String()); n > 1024 {
				t.Errorf("%s: a %d-byte user name made a %d-byte log line", format, len(user), n)
			}
		}
	}
}

// TestFailureLogBounded: a locked-out address that keeps trying (each
// attempt refused at once, no hash spent) writes at most
// logbound.DefaultPerClient fail2ban lines a minute, then one line
// counting those left out; the limiter's counters stay exact, and another
// address's failures are still logged.
func TestFailureLogBounded(t *testing.T) {
	v, clock, logs := newLimitedVerifier(t, Options{})
	const flood = 5 * logbound.DefaultPerClient
	for range flood {
		v.Authenticate(context.Background(), "alice", "guess", attacker+":1234")
	}
	mustFail(t, v, "bob", "guess", aliceIP, ErrBadCredentials)
	lines := func(remote string) int {
		return strings.Count(logs.String(), `msg="authentication failed" remote=`+remote+" ")
	}
	if got := lines(attacker); got != logbound.DefaultPerClient {
		t.Errorf("%d failures from one address: %d fail2ban lines, want %d", flood, got, logbound.DefaultPerClient)
	}
	if got := lines(aliceIP); got != 1 {
		t.Errorf("another address: %d fail2ban lines, want 1", got)
	}
	if f := v.Failures(); f.BadCredentials+f.RateLimited != flood+1 {
		t.Errorf("Failures() = %+v, want %d in all: the counters are exact", f, flood+1)
	}
	clock.Advance(time.Minute)
	mustFail(t, v, "bob", "guess", aliceIP, ErrBadCredentials)
	want := fmt.Sprintf(`level=WARN msg="log lines left out" of="authentication failed" count=%d since=`, flood-logbound.DefaultPerClient)
	if !strings.Contains(logs.String(), want) {
		t.Errorf("no %q after the minute:\n%s", want, logs.String())
	}
}

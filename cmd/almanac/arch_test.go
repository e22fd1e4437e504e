package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencyDirection enforces DESIGN.md's layering on every
// package's direct, non-test imports: cmd → dav, feed → engine → Pebble.
// The engine knows no HTTP, XML, gRPC or NATS; dav never touches Pebble,
// protobuf, gRPC or NATS; feed never touches dav or Pebble.
func TestDependencyDirection(t *testing.T) {
	t.Parallel() // reads the module with `go list` in a child process, writes nothing
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	rules := []struct {
		pkg    string // package pattern, relative to the module root
		banned []string
		why    string
	}{
		{"./engine/...", []string{"net/http", "encoding/xml", "google.golang.org/grpc", "github.com/nats-io", "github.com/almanac/almanac/dav", "github.com/almanac/almanac/feed", "github.com/almanac/almanac/proto/almanac/feed", "github.com/prometheus"},
			"the engine is storage only: no HTTP, XML, gRPC, NATS, DAV, feed or metrics library (cmd exports engine.Stats)"},
		{"./dav/...", []string{"github.com/cockroachdb/pebble", "github.com/almanac/almanac/proto", "github.com/almanac/almanac/feed", "google.golang.org/grpc", "github.com/nats-io", "google.golang.org/protobuf", "github.com/prometheus"},
			"dav uses the engine's Go API, never its storage or the feed; cmd exports its counters (auth.Verifier.Failures)"},
		{"./feed/...", []string{"github.com/cockroachdb/pebble", "github.com/almanac/almanac/dav", "github.com/almanac/almanac/webhook"},
			"feed reads the engine's log API, never Pebble, the DAV layer or another adapter"},
		{"./push/...", []string{"github.com/cockroachdb/pebble", "github.com/almanac/almanac/feed", "github.com/nats-io", "google.golang.org/grpc"},
			"the push sender reads the engine's log API (and writes push-messages with dav/push), never Pebble or the feed"},
		{"./jslog/...", []string{"github.com/cockroachdb/pebble", "github.com/almanac/almanac/dav", "github.com/almanac/almanac/feed", "net/http"},
			"jslog is the engine's shared log on NATS: it implements engine.SharedLog and knows nothing of storage, DAV or the feed"},
		{"./lease/...", []string{"github.com/almanac/almanac", "github.com/cockroachdb/pebble", "net/http", "google.golang.org/grpc"},
			"lease elects one node on NATS alone: it imports nothing of Almanac's (cmd hands the work to run)"},
		{"./itip/itiptest/...", []string{"github.com/almanac/almanac"},
			"itiptest holds the scheduling tests' shared comparison and data; it knows nothing of Almanac"},
		{"./internal/natstest/...", []string{"github.com/almanac/almanac"},
			"natstest starts nats-servers for tests; it knows nothing of Almanac (but testport's ports, allowed below)"},
		{"./internal/forward/...", []string{"github.com/almanac/almanac", "github.com/cockroachdb/pebble", "google.golang.org/grpc"},
			"forward carries HTTP requests over NATS to the cluster's writer; it knows nothing of Almanac (cmd hands it the election and the engine's head)"},
		{"./internal/tcpproxy/...", []string{"github.com/almanac/almanac", "github.com/nats-io", "net/http"},
			"tcpproxy pipes TCP for tests that cut links; it knows nothing of Almanac, NATS or HTTP"},
		{"./cmd/almanac/clustertest/...", []string{"github.com/almanac/almanac"},
			"clustertest holds cmd/almanac's multi-process cluster tests, which run the built binary; it has no code of its own"},
		{"./internal/testport/...", []string{"github.com/almanac/almanac"},
			"testport holds loopback ports for tests and the bench; it knows nothing of Almanac"},
		{"./internal/testbin/...", []string{"github.com/almanac/almanac"},
			"testbin builds a command for tests that run it as a child; it knows nothing of Almanac"},
		{"./internal/logbound/...", []string{"github.com/almanac/almanac"},
			"logbound bounds the log lines clients cause with log/slog alone; it knows nothing of Almanac"},
		{"./internal/calgen/...", []string{"github.com/almanac/almanac"},
			"calgen makes random iCalendar for property tests; it knows nothing of Almanac"},
		{"./web/...", []string{"github.com/cockroachdb/pebble", "github.com/almanac/almanac/proto", "github.com/almanac/almanac/feed", "google.golang.org/grpc", "github.com/nats-io", "google.golang.org/protobuf"},
			"the web app uses the engine's Go API and dav's operations (audit, auth), never storage or the feed"},
		{"./dav/auth/...", []string{"github.com/almanac/almanac/web", "github.com/zitadel"},
			"login sources (ldapauth, oidcauth) serve dav and web alike and import neither; oidcauth's test provider is its own oidctest"},
		{"./change/...", []string{"github.com/cockroachdb/pebble", "github.com/almanac/almanac/dav", "github.com/almanac/almanac/feed", "github.com/almanac/almanac/webhook", "google.golang.org/grpc", "github.com/nats-io", "net/http"},
			"change converts log events for the adapters: engine and proto only, no transport"},
		{"./webhook/...", []string{"github.com/cockroachdb/pebble", "github.com/almanac/almanac/dav", "github.com/almanac/almanac/feed", "google.golang.org/grpc", "github.com/nats-io"},
			"webhook reads the engine's log API through package change, never Pebble or another adapter"},
		{"./imip/...", []string{"github.com/cockroachdb/pebble", "github.com/almanac/almanac/dav", "github.com/almanac/almanac/feed", "github.com/almanac/almanac/webhook", "google.golang.org/grpc", "github.com/nats-io", "net/http"},
			"imip reads the engine's log API and reaches scheduling through the interface cmd hands it, never Pebble, DAV or another adapter"},
	}
	// One `go list` of the whole module, not one a rule: each loads the
	// module, and 19 of them took 3.5 CPU-s.
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "../../...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	const module = "github.com/almanac/almanac"
	// allowed are the exceptions to a rule's bans, by its package pattern.
	allowed := map[string][]string{
		"./internal/natstest/...": {"github.com/almanac/almanac/internal/testport"},
	}
	for _, r := range rules {
		root := module + "/" + strings.TrimSuffix(strings.TrimPrefix(r.pkg, "./"), "/...")
		matched := 0
		for _, line := range lines {
			f := strings.Fields(line)
			if f[0] != root && !strings.HasPrefix(f[0], root+"/") {
				continue
			}
			matched++
			for _, imp := range f[1:] {
				for _, b := range r.banned {
					if (imp == b || strings.HasPrefix(imp, b+"/")) && !slices.Contains(allowed[r.pkg], imp) {
						t.Errorf("%s imports %s: %s", f[0], imp, r.why)
					}
				}
			}
		}
		if matched == 0 {
			t.Errorf("no package of the module matches %s", r.pkg)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// helpFlags names, per command, the flags its --help must list (serve's
// hooks add more; every flag listed here must appear). A command missing
// from the table fails the test, so a new command gets its golden row.
var helpFlags = map[string][]string{
	"backup":      {"verify", "server", "user", "data", "config", "memory-budget"},
	"compact":     {"keep", "server", "user", "data", "config"},
	"export":      {"as-of", "vdir", "radicale", "server", "user", "data", "config"},
	"group":       {"display-name", "data", "config", "server", "as"},
	"healthcheck": {"ready", "listen", "tls-cert", "config", "url", "timeout"},
	"history":     {"since", "json", "show", "diff", "server", "user", "data", "config"},
	"import":      {"users", "server", "user", "data", "config", "memory-budget"},
	"man":         {},
	"node":        {"checkpoint", "data", "config"},
	"proxy":       {"read", "write", "none", "data", "config", "server", "as"},
	"resource":    {"type", "email", "auto-accept", "auto-accept-if-free", "manual", "managers", "no-managers", "display-name", "data", "config"},
	"purge":       {"server", "user", "data", "config"},
	"push":        {"data", "config"},
	"rebuild":     {"server", "user", "data", "config", "memory-budget"},
	"restore":     {"as-of", "dry-run", "server", "user", "data", "config"},
	"serve":       {"listen", "data", "htpasswd", "htgroup", "ldap-url", "ldap-starttls", "ldap-ca-file", "ldap-bind-dn", "ldap-bind-password-file", "ldap-user-base", "ldap-user-filter", "ldap-display-name-attr", "ldap-email-attr", "config", "tls-cert", "tls-key", "log-level", "max-object-size", "share-auto-accept", "grpc-listen", "nats-listen", "debug-listen", "metrics-listen", "backup-dir", "push", "push-min-interval", "push-private-endpoints", "webhook-max-outage", "webhook-timeout", "webhook-allow-private"},
	"share":       {"to", "access", "auto-accept", "data", "config", "server", "as"},
	"tail":        {"user", "server", "from", "collection", "json", "token", "tls", "tls-ca"},
	"token":       {"user", "label", "data", "config", "server", "as"},
	"undelete":    {"server", "user", "data", "config"},
	"user":        {"admin", "data", "config", "server", "as"},
	"verify":      {"server", "user", "data", "config", "memory-budget"},
	"version":     {},
	"webhook":     {"owner", "principal", "collection", "kinds", "ops", "include-body", "data", "config", "server", "as"},
}

// TestCLIHelp runs every registered command's --help, -h, -help and `help
// NAME` in-process: each exits 0, prints nothing on stderr, and prints on
// stdout the command's synopsis and every flag of its golden row with its
// environment variable; flags with a default show it.
func TestCLIHelp(t *testing.T) {
	ctx := context.Background()
	for _, c := range sortedCommands() {
		want, ok := helpFlags[c.Name]
		if !ok {
			t.Errorf("command %q has no row in helpFlags", c.Name)
			continue
		}
		for _, args := range [][]string{{c.Name, "--help"}, {c.Name, "-h"}, {c.Name, "-help"}, {"help", c.Name}} {
			var out, errOut bytes.Buffer
			if code := run(ctx, args, &out, &errOut); code != 0 {
				t.Errorf("%q: exit %d, want 0; stderr %q", args, code, errOut.String())
				continue
			}
			if errOut.Len() != 0 {
				t.Errorf("%q: stderr %q, want nothing", args, errOut.String())
			}
			s := out.String()
			if !strings.HasPrefix(s, "usage: almanac "+c.Name) {
				t.Errorf("%q: stdout does not start with the synopsis:\n%s", args, s)
			}
			for _, f := range want {
				if !strings.Contains(s, "  --"+f+" ") && !strings.Contains(s, "  --"+f+"\n") {
					t.Errorf("%q: flag --%s not listed:\n%s", args, f, s)
				}
				if !strings.Contains(s, "env "+envName(f)) {
					t.Errorf("%q: %s not named:\n%s", args, envName(f), s)
				}
			}
		}
	}
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"serve", "--help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "default 127.0.0.1:8080") {
		t.Errorf("serve --help: exit %d, want the --listen default:\n%s", code, out.String())
	}
	// `user --help` and `user add --help` both list --admin.
	for _, args := range [][]string{{"user", "add", "--help"}, {"token", "revoke", "-h"}} {
		out.Reset()
		if code := run(ctx, args, &out, &errOut); code != 0 || !strings.Contains(out.String(), "  --data ") {
			t.Errorf("%q: exit %d:\n%s", args, code, out.String())
		}
	}
}

// TestCLIUsageErrors: an unknown command, `help` of an unknown command and
// a bad flag exit 2 with the usage (and, for a bad flag, the flags) on
// stderr and nothing on stdout.
func TestCLIUsageErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`, "usage: almanac <command>"}},
		{[]string{"help", "frobnicate"}, []string{`unknown command "frobnicate"`, "usage: almanac <command>"}},
		{[]string{"tail", "--bogus"}, []string{"flag provided but not defined: -bogus", "usage: almanac tail", "  --server "}},
		{[]string{"history", "--bogus", "/dav/x/"}, []string{"-bogus", "usage: almanac history", "  --since "}},
		{[]string{"user", "add", "alice", "--bogus"}, []string{"-bogus", "usage: almanac user", "  --admin"}},
		{[]string{"serve", "--listen"}, []string{"flag needs an argument", "usage: almanac serve", "  --listen "}},
	} {
		var out, errOut bytes.Buffer
		if code := run(ctx, tc.args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2", tc.args, code)
		}
		if out.Len() != 0 {
			t.Errorf("%q: stdout %q, want nothing", tc.args, out.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut.String(), w) {
				t.Errorf("%q: stderr lacks %q:\n%s", tc.args, w, errOut.String())
			}
		}
	}
}

// TestCLIVersion: `--version`, `-version` and `version` exit 0 and print
// the Go version; printVersion shows the stamped module version, revision
// and time, and "(devel)"/"unknown" when the binary carries none.
func TestCLIVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 0 {
			t.Errorf("%q: exit %d; stderr %q", args, code, errOut.String())
		}
		if !strings.HasPrefix(out.String(), "almanac ") || !strings.Contains(out.String(), "go:       go1.") {
			t.Errorf("%q: stdout %q", args, out.String())
		}
	}
	var out bytes.Buffer
	printVersion(&out, &debug.BuildInfo{
		GoVersion: "go1.99.1",
		Main:      debug.Module{Path: "github.com/almanac/almanac", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.time", Value: "2026-12-04T20:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	})
	want := "almanac v1.2.3\nrevision: 0123abcd (modified)\ntime:     2026-12-04T20:00:00Z\ngo:       go1.99.1 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if out.String() != want {
		t.Errorf("stamped build:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	printVersion(&out, nil)
	if s := out.String(); !strings.HasPrefix(s, "almanac (devel)\nrevision: unknown\ntime:     unknown\ngo:       "+runtime.Version()) {
		t.Errorf("unstamped build:\n%s", s)
	}
}

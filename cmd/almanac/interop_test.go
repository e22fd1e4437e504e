package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Interop tests drive real clients against startServer. Each skips with a
// message only when its client is not installed (CI installs them all:
// apt-get install python3-caldav vdirsyncer litmus). They run in parallel
// with each other: each has its own server, data and client directories,
// and mostly waits for its client's process.

// systemPython is Debian's interpreter: the client modules are installed
// for it, and another python3 may come first on PATH.
const systemPython = "/usr/bin/python3"

// requirePythonModule skips the test when systemPython cannot import mod.
func requirePythonModule(t *testing.T, mod, pkg string) {
	t.Helper()
	if _, err := os.Stat(systemPython); err != nil {
		t.Skipf("interop client missing: %s not found (install %s)", systemPython, pkg)
	}
	if out, err := exec.Command(systemPython, "-c", "import "+mod).CombinedOutput(); err != nil {
		t.Skipf("interop client missing: python module %s (install %s): %s", mod, pkg, strings.TrimSpace(string(out)))
	}
}

// requireBinary skips the test when name is not on PATH and returns its path.
func requireBinary(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("interop client missing: %s not on PATH (install %s)", name, pkg)
	}
	return p
}

// clientBound bounds a client's run (python-caldav, vdirsyncer, litmus):
// Python's start and its imports alone take many seconds on 2 cores
// under load 30, beside the client's requests to a race-built server;
// the wait ends when the client does.
const clientBound = 3 * time.Minute

// runClient runs a client command with a deadline and returns its
// combined output; a failure fails the test with the output and the
// server's logs.
func runClient(t *testing.T, srv *testServer, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\noutput:\n%s\nserver logs (tail):\n%s", name, strings.Join(args, " "), err, out, tail(srv.Logs.String(), 60))
	}
	return string(out)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runClientAllowFail runs a client command with a deadline and returns its
// combined output whatever its exit status; only a failure to start or the
// deadline fails the test.
func runClientAllowFail(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir() // litmus writes child.log and debug.log where it runs
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s: %v\noutput:\n%s", name, ctx.Err(), out)
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%s: %v", name, err)
	}
	return string(out)
}

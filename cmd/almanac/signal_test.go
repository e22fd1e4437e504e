package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runMainEnv, set in a child's environment, makes the test binary run
// main() with its arguments instead of the tests: the child is the almanac
// binary, with main's own signal handling and exit status.
const runMainEnv = "ALMANAC_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main() // exits
	}
	// The in-process servers of the tests share this process and leave
	// its collector alone (startServer); it collects at 400, serve's
	// default until session 10: at serve's 100 the race-enabled package
	// spent four times the collections on its tests' garbage, and
	// TestResourceAttacks' reads of bob's under 200 slow PUTs went over
	// their bound under load.
	debug.SetGCPercent(400)
	code := m.Run()
	// No test's server may leave the process's collector changed for the
	// tests after it (testGetenv): the race-enabled package then ran its
	// collector all the time under serve's default 36 MiB limit.
	if got := debug.SetGCPercent(400); got != 400 {
		fmt.Fprintf(os.Stderr, "FAIL: a test left the process's GC percent at %d (its server's Getenv wants testGetenv)\n", got)
		code = 1
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		fmt.Fprintf(os.Stderr, "FAIL: a test left the process's Go memory limit at %d bytes (its server's Getenv wants testGetenv)\n", got)
		code = 1
	}
	os.Exit(code)
}

// TestServeSignalExit runs `almanac serve` as a child process, waits for its
// banner, and sends SIGINT (Ctrl-C of `make run`) or SIGTERM (systemd's
// stop): the server shuts down gracefully and exits with status 0. Its
// fresh data directory logs no projection rebuild.
func TestServeSignalExit(t *testing.T) {
	t.Parallel() // own data directory, free ports, child processes: it mostly waits (README, Test time)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			// --htpasswd: no first-run admin, whose cost-10 hash is the
			// most of a race-built child's CPU here (testHtpasswd).
			cmd, _, stderr := startServeChild(t, "--listen=127.0.0.1:0", "--data="+t.TempDir(), "--htpasswd="+testHtpasswd(t))
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit: %v, want status 0; stderr:\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "shutting down") {
				t.Errorf("no graceful shutdown logged:\n%s", stderr.String())
			}
			if strings.Contains(stderr.String(), "another version") {
				t.Errorf("a fresh data directory logged a projection rebuild:\n%s", stderr.String())
			}
		})
	}
}

// startServeChild runs `almanac serve ARGS` (plus hookTestFlags) as a
// child process, waits for its banner, and returns the process, the URL
// the banner names (without the final slash) and its stderr. A child still
// running after 2 minutes is killed, so that a hung child fails the test
// instead of the test binary's timeout.
func startServeChild(t *testing.T, args ...string) (cmd *exec.Cmd, url string, stderr *syncBuffer) {
	t.Helper()
	cmd = exec.Command(os.Args[0], append(append([]string{"serve"}, args...), hookTestFlags(args)...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	stderr = &syncBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	t.Cleanup(func() { timer.Stop() })
	sc := bufio.NewScanner(stdout)
	banner := regexp.MustCompile(`^Almanac is serving .* at (\S+)/$`)
	for url == "" && sc.Scan() {
		if m := banner.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		cmd.Wait()
		t.Fatalf("no banner; stderr:\n%s", stderr.String())
	}
	go func() {
		for sc.Scan() { // drain, so the child never blocks on stdout
		}
	}()
	return cmd, url, stderr
}

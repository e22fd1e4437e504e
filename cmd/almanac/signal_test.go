package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
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
	os.Exit(m.Run())
}

// TestServeSignalExit runs `almanac serve` as a child process, waits for its
// banner, and sends SIGINT (Ctrl-C of `make run`) or SIGTERM (systemd's
// stop): the server shuts down gracefully and exits with status 0. Its
// fresh data directory logs no projection rebuild.
func TestServeSignalExit(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			args := append([]string{"serve", "--listen=127.0.0.1:0", "--data=" + t.TempDir()}, hookTestFlags(nil)...)
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), runMainEnv+"=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// A generous bound, so that a hung child fails the test
			// instead of the test binary's timeout.
			timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
			defer timer.Stop()
			sc := bufio.NewScanner(stdout)
			serving := false
			for !serving && sc.Scan() {
				serving = strings.HasPrefix(sc.Text(), "Almanac is serving")
			}
			if !serving {
				cmd.Wait()
				t.Fatalf("no banner; stderr:\n%s", stderr.String())
			}
			go func() {
				for sc.Scan() { // drain, so the child never blocks on stdout
				}
			}()
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

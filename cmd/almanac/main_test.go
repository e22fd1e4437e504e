package main

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/almanac/almanac/engine"
)

// testServer is an almanac server running in-process on 127.0.0.1:0, made by
// startServer. Other test files of package main use it:
//
//	srv := startServer(t)                       // users alice, bob (role user) and admin (role admin), password "secret"
//	resp := srv.Do(t, "PROPFIND", "/dav/home/alice/", "alice", body, "Depth", "1")
//	srv.DB                                      // the open engine, for assertions
//	srv.Stop(t)                                 // graceful shutdown; also run by t.Cleanup
//
// startServer(t, "--max-object-size=1000") passes extra serve flags. The
// feed's hooks get "--nats=off" and "--grpc-listen=127.0.0.1:0" when they
// define those flags and the caller did not set them.
type testServer struct {
	// BaseURL is "http://127.0.0.1:PORT" (no trailing slash).
	BaseURL string
	// DataDir is the --data directory (a t.TempDir unless --data was given).
	DataDir string
	// Main is the running server; DB its engine (nil after Stop).
	Main *Main
	DB   *engine.DB
	// Logs collects the server's log output.
	Logs *syncBuffer

	stopOnce sync.Once
	cancel   context.CancelFunc
}

// testPassword is the password of every user startServer creates.
const testPassword = "secret"

// testPasswordHash is a bcrypt hash of testPassword at the least cost,
// made once for the package's tests: under -race each costs ~18 CPU-ms,
// and every server startServer starts holds three users. The verifier's
// cache is keyed by user too, so users that share it are each verified.
var testPasswordHash = sync.OnceValues(func() ([]byte, error) {
	return bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
})

// testHash returns testPasswordHash, failing tb when bcrypt did.
func testHash(tb testing.TB) string {
	tb.Helper()
	h, err := testPasswordHash()
	if err != nil {
		tb.Fatal(err)
	}
	return string(h)
}

// startServer boots `almanac serve` in-process with a fresh data directory
// and the users alice, bob and admin (all with password "secret").
func startServer(t testing.TB, flags ...string) *testServer {
	t.Helper()
	s := serveOn(t, t.TempDir(), flags...)
	ctx := context.Background()
	for _, u := range []struct{ name, role string }{{"alice", engine.RoleUser}, {"bob", engine.RoleUser}, {"admin", engine.RoleAdmin}} {
		// The minimum bcrypt cost keeps tests fast; the hash format is the same.
		if err := s.DB.PutUser(ctx, engine.Meta{Actor: "test"}, engine.User{Name: u.name, PasswordHash: testHash(t), Role: u.role}); err != nil {
			t.Fatalf("startServer: add user %s: %v", u.name, err)
		}
	}
	return s
}

// testHtpasswd writes an htpasswd file holding alice with testPassword
// and returns its path: a --htpasswd for `almanac serve` children of tests
// that are not about the first run or hashing. Without --htpasswd a fresh
// data directory's first start creates the admin with a cost-10 bcrypt
// hash, 1.5-2 CPU-s in a race-built binary; this file's hash has the
// least cost, and with --htpasswd serve creates no first-run admin.
func testHtpasswd(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte("alice:"+testHash(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// putTestUser adds the user name with testPassword, role user, to the
// data directory dir (not open elsewhere) through the engine, for tests of
// other commands than `user add`: the least bcrypt cost, where `user add`
// hashes at cost 10 (~1 CPU-s in a race build).
func putTestUser(t testing.TB, dir, name string) {
	t.Helper()
	db, err := openDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PutUser(context.Background(), engine.Meta{Actor: "test"}, engine.User{Name: name, PasswordHash: testHash(t), Role: engine.RoleUser}); err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
}

// serveOn boots `almanac serve` in-process on the data directory dataDir
// as it is (startServer's users are not added: a restart keeps them).
func serveOn(t testing.TB, dataDir string, flags ...string) *testServer {
	t.Helper()
	args := append([]string{"--listen=127.0.0.1:0", "--data=" + dataDir, "--log-level=debug"}, flags...)
	args = append(args, hookTestFlags(flags)...)
	logs := &syncBuffer{}
	m := NewMain()
	m.Getenv = testGetenv(nil, flags...)
	m.Stdout, m.LogOutput = logs, logs
	m.noFirstRun = true // startServer adds its own users
	if err := m.ParseFlags(args); err != nil {
		t.Fatalf("startServer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Run(ctx); err != nil {
		cancel()
		t.Fatalf("startServer: %v\nlogs:\n%s", err, logs)
	}
	s := &testServer{BaseURL: "http://" + m.Addr(), DataDir: m.Config.DataDir, Main: m, DB: m.DB, Logs: logs, cancel: cancel}
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// testGetenv returns the environment of an in-process server: env alone
// (isolated from the developer's ALMANAC_*), in which serve leaves the
// test process's Go memory limit and collector percent alone unless
// flags set --memory-budget or --gc-percent. The servers share the test
// process, and serve sets both from those flags' defaults unless GOMEMLIMIT
// and GOGC are in the environment: one test's server set them for every
// later test of the package, whose collector then ran all the time under
// a 36 MiB limit with the race detector (slow PUTs timed out under make
// test's load). TestMain checks that no test leaves them changed. Likewise
// serve leaves the test binary's code pages resident unless flags set
// --release-code-pages: released (MADV_DONTNEED, MADV_RANDOM), the rest
// of the package would read its code back a page at a time.
func testGetenv(env map[string]string, flags ...string) func(string) string {
	explicit := func(name string) bool {
		return slices.ContainsFunc(flags, func(f string) bool { return strings.HasPrefix(f, "--"+name) })
	}
	keepLimit, keepGC, keepCode := !explicit("memory-budget"), !explicit("gc-percent"), !explicit("release-code-pages")
	return func(k string) string {
		if v := env[k]; v != "" {
			return v
		}
		switch {
		case k == "GOMEMLIMIT" && keepLimit, k == "GOGC" && keepGC:
			return "the test process's"
		case k == envName("release-code-pages") && keepCode:
			return "false"
		}
		return ""
	}
}

// hookTestFlags turns off or moves to free ports the network listeners of
// serve hooks that define the well-known flags, unless flags sets them.
func hookTestFlags(flags []string) []string {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	for _, h := range serveHooks {
		if h.Flags != nil {
			h.Flags(fs)
		}
	}
	var out []string
	for name, value := range map[string]string{"nats": "off", "grpc-listen": "127.0.0.1:0"} {
		if fs.Lookup(name) == nil || flagGiven(flags, name) {
			continue
		}
		out = append(out, "--"+name+"="+value)
	}
	return out
}

func flagGiven(flags []string, name string) bool {
	for _, f := range flags {
		f = strings.TrimLeft(f, "-")
		if f == name || strings.HasPrefix(f, name+"=") {
			return true
		}
	}
	return false
}

// Stop shuts the server down gracefully and fails the test on an error.
// Later calls do nothing.
func (s *testServer) Stop(t testing.TB) {
	s.stopOnce.Do(func() {
		s.cancel()
		// A bound for a loaded machine (a cluster node's in-flight writes
		// wait for the log's 10 s bound): returns once the server stops.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := s.Main.Close(ctx); err != nil {
			t.Errorf("stop server: %v", err)
		}
		s.DB = nil
	})
}

// Do sends a request as user (no credentials when user is ""), with
// header name/value pairs, and returns the response with its body read.
func (s *testServer) Do(t testing.TB, method, path, user, body string, header ...string) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(s.request(t, method, path, user, body, header...))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b.String()
}

// request builds the request Do sends.
func (s *testServer) request(t testing.TB, method, path, user, body string, header ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, s.BaseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, testPassword)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestRunDispatch(t *testing.T) {
	ctx := context.Background()
	t.Run("Help", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run(ctx, []string{"help"}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, name := range []string{"serve", "user"} {
			if !strings.Contains(out.String(), "  "+name+" ") {
				t.Errorf("help does not list %q:\n%s", name, out.String())
			}
		}
	})
	t.Run("ErrUnknownCommand", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run(ctx, []string{"frobnicate"}, &out, &errOut); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
		if !strings.Contains(errOut.String(), `unknown command "frobnicate"`) || !strings.Contains(errOut.String(), "usage:") {
			t.Errorf("stderr = %q", errOut.String())
		}
	})
	t.Run("ErrNoCommand", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run(ctx, nil, &out, &errOut); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
	t.Run("ErrBadFlag", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run(ctx, []string{"serve", "--no-such-flag"}, &out, &errOut); code != 2 {
			t.Errorf("exit %d, want 2; stderr %q", code, errOut.String())
		}
	})
}

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/auth/ldapauth/slapdtest"
	"github.com/almanac/almanac/engine"
)

const testEvent = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:shutdown-1\r\n" +
	"DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Kept\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

func TestServeDiscovery(t *testing.T) {
	srv := startServer(t)
	t.Run("WellKnownRedirect", func(t *testing.T) {
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, p := range []string{"/.well-known/caldav", "/.well-known/carddav"} {
			resp, err := client.Get(srv.BaseURL + p)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got, want := resp.StatusCode, http.StatusMovedPermanently; got != want {
				t.Errorf("%s: status %d, want %d", p, got, want)
			}
			if got, want := resp.Header.Get("Location"), "/dav/"; got != want {
				t.Errorf("%s: Location %q, want %q", p, got, want)
			}
		}
	})
	t.Run("RootPrincipal", func(t *testing.T) {
		resp, body := srv.Do(t, "PROPFIND", "/", "alice",
			`<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>`, "Depth", "0")
		if resp.StatusCode != http.StatusMultiStatus {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if !strings.Contains(body, "<D:href>/dav/principals/alice/</D:href>") {
			t.Errorf("no principal href for alice in %s", body)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id header")
		}
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		resp, _ := srv.Do(t, "PROPFIND", "/dav/home/alice/", "", "", "Depth", "0")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", resp.StatusCode)
		}
	})
	t.Run("Banner", func(t *testing.T) {
		// "almanac" under go test; a binary built with go test -c and run
		// from elsewhere is named by its path (programName).
		if !strings.Contains(srv.Logs.String(), " user add NAME") {
			t.Errorf("startup output does not say how to add a user:\n%s", srv.Logs)
		}
	})
}

// TestServeShutdown checks the order of a graceful shutdown: an in-flight
// request completes, hooks stop in reverse order while the engine is still
// open, then the engine closes and the data directory can be reopened with
// every acknowledged write.
func TestServeShutdown(t *testing.T) {
	var order []string
	entered, release := make(chan struct{}), make(chan struct{})
	hook := func(name string) ServeHook {
		return ServeHook{Name: name, Start: func(ctx context.Context, env *ServeEnv) (func(context.Context) error, error) {
			if name == "first" {
				env.Mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
					close(entered)
					<-release
					w.Write([]byte("done"))
				})
			}
			return func(context.Context) error {
				v, err := env.DB.View()
				if err != nil {
					t.Errorf("hook %s stopped after the engine closed: %v", name, err)
				} else {
					v.Close()
				}
				order = append(order, name)
				return nil
			}, nil
		}}
	}
	old := serveHooks
	serveHooks = []ServeHook{hook("first"), hook("second")}
	srv := startServer(t)
	serveHooks = old

	if resp, body := srv.Do(t, "PUT", "/dav/home/alice/calendar/kept.ics", "alice", testEvent,
		"Content-Type", "text/calendar"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: status %d: %s", resp.StatusCode, body)
	}

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(srv.BaseURL + "/slow")
		if err != nil {
			slow <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b := make([]byte, 16)
		n, _ := resp.Body.Read(b)
		slow <- string(b[:n])
	}()
	<-entered
	stopped := make(chan struct{})
	go func() { srv.Stop(t); close(stopped) }()
	// Wait until the listener is closed: new connections are refused while
	// the slow request is still running.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp", srv.Main.Addr())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s still takes connections a minute after the server began to stop", srv.Main.Addr())
		}
	}
	if len(order) != 0 {
		t.Errorf("hooks stopped before in-flight requests finished: %v", order)
	}
	close(release)
	<-stopped
	if got := <-slow; got != "done" {
		t.Errorf("in-flight request got %q, want done", got)
	}
	if want := []string{"second", "first"}; !slices.Equal(order, want) {
		t.Errorf("hooks stopped in order %v, want %v", order, want)
	}

	db, err := engine.Open(filepath.Join(srv.DataDir, "db"), nil)
	if err != nil {
		t.Fatalf("reopen after shutdown: %v", err)
	}
	defer db.Close()
	if _, err := db.Object("/dav/home/alice/calendar/", "kept.ics", false); err != nil {
		t.Errorf("object written before shutdown: %v", err)
	}
}

func TestServeHookStartFailure(t *testing.T) {
	var stopped []string
	old := serveHooks
	defer func() { serveHooks = old }()
	serveHooks = []ServeHook{
		{Name: "ok", Start: func(context.Context, *ServeEnv) (func(context.Context) error, error) {
			return func(context.Context) error { stopped = append(stopped, "ok"); return nil }, nil
		}},
		{Name: "broken", Start: func(context.Context, *ServeEnv) (func(context.Context) error, error) {
			return nil, errors.New("no luck")
		}},
	}
	dir := t.TempDir()
	m := NewMain()
	m.Getenv = testGetenv(nil)
	m.Stdout, m.LogOutput = &syncBuffer{}, &syncBuffer{}
	m.noFirstRun = true // no admin: its cost-10 hash is CPU this test does not need
	if err := m.ParseFlags([]string{"--listen=127.0.0.1:0", "--data=" + dir}); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "start broken: no luck") {
		t.Fatalf("Run = %v, want the hook's error", err)
	}
	if !slices.Equal(stopped, []string{"ok"}) {
		t.Errorf("started hooks stopped: %v, want [ok]", stopped)
	}
	db, err := engine.Open(filepath.Join(dir, "db"), nil)
	if err != nil {
		t.Fatalf("engine left open after a failed start: %v", err)
	}
	db.Close()
}

func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := writeTestCert(t)
	srv := startServer(t, "--tls-cert="+certFile, "--tls-key="+keyFile)
	url := strings.Replace(srv.BaseURL, "http://", "https://", 1)

	t.Run("HTTP2", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(url + "/.well-known/caldav")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Errorf("protocol %s, want HTTP/2", resp.Proto)
		}
		if resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("TLS version %x, want 1.2 or later", resp.TLS.Version)
		}
	})
	t.Run("ErrTLS11", func(t *testing.T) {
		c, err := tls.Dial("tcp", srv.Main.Addr(), &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11})
		if err == nil {
			c.Close()
			t.Error("a TLS 1.1 handshake succeeded")
		}
	})
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and returns
// its files and a pool trusting it.
func writeTestCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	return slapdtest.Cert(t)
}

// TestHookFlagsPerMain: each Main's hooks start with the flags that Main
// parsed, even when another Main parsed other values in between.
func TestHookFlagsPerMain(t *testing.T) {
	parse := func(args ...string) *Main {
		m := NewMain()
		m.Getenv = testGetenv(nil)
		m.Stdout, m.LogOutput = &syncBuffer{}, &syncBuffer{}
		m.noFirstRun = true // no admin: its cost-10 hash is CPU this test does not need
		args = append([]string{"--listen=127.0.0.1:0", "--data=" + t.TempDir(), "--nats=off"}, args...)
		if err := m.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		return m
	}
	off := parse("--grpc-listen=off")
	on := parse("--grpc-listen=127.0.0.1:0")
	for _, m := range []*Main{off, on} {
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
	}
	if rt := runtimeFor(off.DB); rt == nil || rt.grpcAddr != "" {
		t.Errorf("--grpc-listen=off: feed runtime %+v, want no gRPC listener", rt)
	}
	if rt := runtimeFor(on.DB); rt == nil || rt.grpcAddr == "" {
		t.Errorf("--grpc-listen=127.0.0.1:0: feed runtime %+v, want a gRPC listener", rt)
	}
}

// TestServeGCPercent: serve sets the collector's percent from
// --gc-percent, and leaves it alone when GOGC is in the environment.
func TestServeGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	startServer(t, "--gc-percent=250")
	if got := debug.SetGCPercent(100); got != 250 {
		t.Errorf("GC percent after serve --gc-percent=250: %d", got)
	}
	m := NewMain()
	m.Getenv = testGetenv(map[string]string{"GOGC": "150"})
	m.Stdout, m.LogOutput = io.Discard, io.Discard
	m.noFirstRun = true // no admin: its cost-10 hash is CPU this test does not need
	args := append([]string{"--listen=127.0.0.1:0", "--data=" + t.TempDir(), "--gc-percent=250"}, hookTestFlags(nil)...)
	if err := m.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent with GOGC set: %d, want it left alone (100)", got)
	}
}

package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/almanac/almanac/internal/testport"
)

// TestHealthcheck: `almanac healthcheck` exits 0 against a serving server
// (/healthz and, with --ready, /readyz), probes loopback for an
// unspecified listen host, speaks HTTPS when serve has a certificate, and
// exits 1 naming the answer when the server is down or not ready.
func TestHealthcheck(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t)
	_, port, _ := net.SplitHostPort(srv.Main.Addr())
	for _, args := range [][]string{
		{"--listen", srv.Main.Addr()},
		{"--listen", srv.Main.Addr(), "--ready"},
		{"--listen", "0.0.0.0:" + port},
		{"--url", srv.BaseURL + "/healthz"},
	} {
		var out bytes.Buffer
		if err := runHealthcheck(ctx, args, &out, func(string) string { return "" }); err != nil || out.String() != "ok\n" {
			t.Errorf("%q: %v, stdout %q", args, err, out.String())
		}
	}

	t.Run("Env", func(t *testing.T) {
		// The container sets ALMANAC_LISTEN for serve; healthcheck reads it too.
		t.Setenv("ALMANAC_LISTEN", "0.0.0.0:"+port)
		var out bytes.Buffer
		if err := runHealthcheck(ctx, []string{"--timeout=30s"}, &out, os.Getenv); err != nil || out.String() != "ok\n" {
			t.Errorf("%v, stdout %q", err, out.String())
		}
	})

	t.Run("TLS", func(t *testing.T) {
		certFile, keyFile, _ := writeTestCert(t)
		tlsSrv := startServer(t, "--tls-cert="+certFile, "--tls-key="+keyFile)
		args := []string{"--listen", tlsSrv.Main.Addr(), "--tls-cert", certFile}
		if err := runHealthcheck(ctx, args, &bytes.Buffer{}, func(string) string { return "" }); err != nil {
			t.Errorf("%q: %v", args, err)
		}
		// An explicit --url is verified: this certificate is self-signed.
		args = []string{"--url", "https://" + tlsSrv.Main.Addr() + "/healthz"}
		if err := runHealthcheck(ctx, args, &bytes.Buffer{}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%q: %v, want a certificate error", args, err)
		}
	})

	t.Run("ErrNotReady", func(t *testing.T) {
		bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeHealth(w, http.StatusServiceUnavailable, "not ready: database: engine: closed")
		}))
		defer bad.Close()
		var out, errOut bytes.Buffer
		code := run(ctx, []string{"healthcheck", "--url", bad.URL + "/readyz"}, &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "503 Service Unavailable: not ready: database: engine: closed") {
			t.Errorf("exit %d, stderr %q", code, errOut.String())
		}
	})

	t.Run("ErrDown", func(t *testing.T) {
		addr := testport.Addrs(t, 1)[0] // held: nothing listens on it
		var out, errOut bytes.Buffer
		if code := run(ctx, []string{"healthcheck", "--listen", addr}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "not healthy") {
			t.Errorf("exit %d, stderr %q", code, errOut.String())
		}
	})
}

// TestHealthcheckProbeURL: the URL healthcheck derives from serve's
// settings.
func TestHealthcheckProbeURL(t *testing.T) {
	for _, tc := range []struct {
		c    healthcheckConfig
		want string
	}{
		{healthcheckConfig{listen: "127.0.0.1:8080"}, "http://127.0.0.1:8080/healthz"},
		{healthcheckConfig{listen: "0.0.0.0:8080", ready: true}, "http://127.0.0.1:8080/readyz"},
		{healthcheckConfig{listen: ":8443", tlsCert: "/etc/c.pem"}, "https://127.0.0.1:8443/healthz"},
		{healthcheckConfig{listen: "[::]:8080"}, "http://[::1]:8080/healthz"},
		{healthcheckConfig{listen: "dav.example.org:443", tlsCert: "c"}, "https://dav.example.org:443/healthz"},
	} {
		if got, err := tc.c.probeURL(); err != nil || got != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.c, got, err, tc.want)
		}
	}
	if _, err := (&healthcheckConfig{listen: "8080"}).probeURL(); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("listen 8080: %v, want an error naming listen", err)
	}
}

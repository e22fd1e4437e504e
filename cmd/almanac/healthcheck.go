package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// defaultListen is serve's --listen default, which healthcheck probes too.
const defaultListen = "127.0.0.1:8080"

func init() {
	register(Command{
		Name:  "healthcheck",
		Usage: "[--ready] [--listen ADDR] [--tls-cert FILE] [--config FILE] [--url URL] [--timeout D]",
		Summary: "exit 0 when the server answers GET /healthz (--ready: /readyz) with 200, 1 otherwise " +
			"(for container HEALTHCHECKs: it reads serve's --listen and --tls-cert from the same environment or config file)",
		Run: func(ctx context.Context, args []string) error {
			return runHealthcheck(ctx, args, os.Stdout, os.Getenv)
		},
	})
}

// healthcheckConfig holds the flags of `almanac healthcheck`.
type healthcheckConfig struct {
	url     string
	listen  string
	tlsCert string
	ready   bool
	timeout time.Duration
}

// healthBodyLimit bounds how much of the answer healthcheck reads.
const healthBodyLimit = 4 << 10

// runHealthcheck is `almanac healthcheck`: one GET of the server's health
// endpoint, within --timeout. The answer's first line goes to stdout.
func runHealthcheck(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	var c healthcheckConfig
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.BoolVar(&c.ready, "ready", false, "ask /readyz (database, writer and NATS publisher working) instead of /healthz (process up)")
	fs.StringVar(&c.listen, "listen", defaultListen, "serve's listen `address`; an unspecified host (0.0.0.0, ::) is probed on loopback")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "serve's TLS certificate `file`: when set, probe over HTTPS (the certificate is not verified: the probe sends no secret)")
	fs.String(configFlag, "", "TOML `file` of the server, for its listen and tls-cert settings")
	fs.StringVar(&c.url, "url", "", "`URL` to GET instead of the one derived from --listen (verified TLS)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	if err := parseLayered(fs, args, getenv, false); err != nil {
		return err
	}
	if c.timeout <= 0 {
		return &ConfigError{Field: "timeout", Err: fmt.Errorf("must be positive, got %s", c.timeout)}
	}
	url, insecure := c.url, false
	if url == "" {
		var err error
		if url, err = c.probeURL(); err != nil {
			return err
		}
		insecure = c.tlsCert != ""
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &ConfigError{Field: "url", Err: err}
	}
	tr := &http.Transport{
		Proxy:           nil, // a probe of this machine's server, never through a proxy
		TLSClientConfig: &tls.Config{InsecureSkipVerify: insecure},
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("not healthy: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, healthBodyLimit))
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not healthy: GET %s: %s: %s", url, resp.Status, line)
	}
	fmt.Fprintln(stdout, line)
	return nil
}

// probeURL derives the health endpoint's URL from serve's settings.
func (c *healthcheckConfig) probeURL() (string, error) {
	host, port, err := net.SplitHostPort(c.listen)
	if err != nil {
		return "", &ConfigError{Field: "listen", Err: fmt.Errorf("want host:port, got %q", c.listen)}
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	scheme, path := "http", "/healthz"
	if c.tlsCert != "" {
		scheme = "https"
	}
	if c.ready {
		path = "/readyz"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + path, nil
}

package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves a certificate and reloads it when the files change on
// disk (a renewal by certbot or acme.sh needs no restart).
type certReloader struct {
	certFile, keyFile string
	logger            *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime time.Time
	checked time.Time
}

// newTLSConfig returns a TLS 1.2+ configuration serving the certificate in
// certFile and keyFile, and the reloader behind it. HTTP/2 is negotiated by
// net/http.
func newTLSConfig(certFile, keyFile string, logger *slog.Logger) (*tls.Config, *certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, logger: logger}
	if err := r.load(); err != nil {
		return nil, nil, &ConfigError{Field: "tls-cert", Err: err}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.get}, r, nil
}

// reload loads the certificate and key now, whatever their modification
// time says (SIGHUP). On failure the old certificate stays in use.
func (r *certReloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checked = time.Now()
	return r.load()
}

func (r *certReloader) load() error {
	st, err := os.Stat(r.certFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate: %w", err)
	}
	r.cert, r.modTime = &cert, st.ModTime()
	return nil
}

// get returns the current certificate, checking the file at most every 10
// seconds; a failed reload keeps the old certificate.
func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) > 10*time.Second {
		r.checked = now
		if st, err := os.Stat(r.certFile); err == nil && !st.ModTime().Equal(r.modTime) {
			if err := r.load(); err != nil {
				r.logger.Error("TLS certificate reload failed; keeping the old one", "err", err)
			} else {
				r.logger.Info("TLS certificate reloaded", "file", r.certFile)
			}
		}
	}
	return r.cert, nil
}

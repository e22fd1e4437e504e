package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Reload rereads, now, the files serve otherwise rereads when they change:
// the TLS certificate and key, and the htpasswd and htgroup files. What fails to load
// keeps its last good version; the errors are returned joined.
func (m *Main) Reload() error {
	var errs []error
	if m.certs != nil {
		if err := m.certs.reload(); err != nil {
			errs = append(errs, fmt.Errorf("reload TLS certificate: %w", err))
		}
	}
	if m.Auth != nil {
		if err := m.Auth.ReloadHtpasswd(); err != nil {
			errs = append(errs, fmt.Errorf("reload htpasswd: %w", err))
		}
	}
	if m.groups != nil {
		if err := m.groups.Sync(context.Background(), true); err != nil {
			errs = append(errs, fmt.Errorf("reload htgroup: %w", err))
		}
	}
	return errors.Join(errs...)
}

// reloadOnSIGHUP calls Reload for every SIGHUP (systemd's ExecReload) until
// the returned stop func is called; stop returns once no Reload runs.
// Without it a SIGHUP would end the process.
func (m *Main) reloadOnSIGHUP() (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-hup:
				if err := m.Reload(); err != nil {
					m.Logger.Error("reload on SIGHUP failed; keeping the last good files", "err", err)
					continue
				}
				m.Logger.Info("reloaded on SIGHUP", "tls_cert", m.Config.TLSCert, "htpasswd", m.Config.Htpasswd, "htgroup", m.Config.Htgroup)
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(quit)
		<-done
	}
}

package ldapauth_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/almanac/almanac/dav/auth/ldapauth"
	"github.com/almanac/almanac/dav/auth/ldapauth/slapdtest"
)

// TestStartTLS: with StartTLS, a login works over the upgraded connection
// when the server's certificate is trusted; an untrusted certificate, or
// a server that offers no TLS, is an outage (ErrUnavailable), never a
// login over plain text.
func TestStartTLS(t *testing.T) {
	cert, key, pool := slapdtest.Cert(t)
	srv := slapdtest.Start(t, entries(t), cert, key)
	plain := slapdtest.Start(t, entries(t), "", "")
	dir := func(url string, roots *x509.CertPool) *ldapauth.Directory {
		d, err := ldapauth.New(ldapauth.Config{URL: url, StartTLS: true, TLS: &tls.Config{RootCAs: roots},
			BindDN: slapdtest.RootDN, BindPassword: slapdtest.RootPassword, UserBase: slapdtest.People})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ctx := context.Background()
	if _, err := dir(srv.URL, pool).Authenticate(ctx, "alice", "alice-pw"); err != nil {
		t.Errorf("StartTLS with a trusted certificate: %v", err)
	}
	if _, err := dir(srv.URL, x509.NewCertPool()).Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, ldapauth.ErrUnavailable) {
		t.Errorf("StartTLS with an untrusted certificate: %v, want ErrUnavailable", err)
	}
	if _, err := dir(plain.URL, pool).Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, ldapauth.ErrUnavailable) {
		t.Errorf("StartTLS to a server without TLS: %v, want ErrUnavailable", err)
	}
}

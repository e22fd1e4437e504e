package auth

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// TestHtpasswdEveryFormat: each htpasswd format README names signs in
// with its password and refuses another, and a plain-text entry never
// signs in. The hashes were made by Apache's htpasswd (-m, -s), OpenSSL
// (passwd -5, -6) and, for {SSHA}, base64(SHA-1(password+salt)+salt).
func TestHtpasswdEveryFormat(t *testing.T) {
	db := MustOpenDB(t)
	entries := []struct{ user, password, hash string }{
		{"bcrypt", "bcrypt-pw", MustHash(t, "bcrypt-pw")},
		{"apr1", "apr1-pw", "$apr1$u/mcLw9r$bH2y1B4cBKa0oH.4jxaHZ."},
		{"sha", "sha-pw", "{SHA}O/MvdjOwOQpt8I9HBSVZugThPMw="},
		{"ssha", "ssha-pw", "{SSHA}31YlWMZ0RvmCm/sUabjw+XsoIkZOYUNsMTIzNA=="},
		{"sha256crypt", "sha256-pw", "$5$saltsalt$2lu5c1yCGhTklFzVr.g/RNDr4e310BZsPfRhutOwAv7"},
		{"sha512crypt", "sha512-pw", "$6$saltsalt$LaBijBidsGBgEFftsdvtqfLIJRgOJWHllC.XJRPI3eoVRBynakB9C1EkLhGwjHMC6sEClNvysvw6gPoTOg2Bl."},
	}
	content := "plain:plain-pw\n"
	for _, e := range entries {
		content += e.user + ":" + e.hash + "\n"
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	mustWrite(t, file, content)
	v, _ := newVerifier(t, Options{DB: db, HtpasswdFile: file})
	ctx := context.Background()
	for _, e := range entries {
		t.Run(e.user, func(t *testing.T) {
			if _, err := v.Authenticate(ctx, e.user, e.password, "192.0.2.1"); err != nil {
				t.Errorf("right password: %v", err)
			}
			if _, err := v.Authenticate(ctx, e.user, e.password+"x", "192.0.2.2"); !errors.Is(err, ErrBadCredentials) {
				t.Errorf("wrong password: err = %v, want ErrBadCredentials", err)
			}
		})
	}
	if _, err := v.Authenticate(ctx, "plain", "plain-pw", "192.0.2.3"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("a plain-text htpasswd entry: err = %v, want ErrBadCredentials", err)
	}
}

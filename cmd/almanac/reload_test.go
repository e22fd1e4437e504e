package main

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestServeReloadSIGHUP runs `almanac serve` as a child process with TLS
// and an htpasswd file, then replaces the certificate, key and htpasswd
// file with new contents of the same size and modification time, which the
// change checks cannot see: the old certificate and password stay in use
// until SIGHUP (systemd's ExecReload), after which the new ones do; the
// server keeps running and still exits 0 on SIGTERM.
func TestServeReloadSIGHUP(t *testing.T) {
	certFile, keyFile, _ := writeTestCert(t)
	newCert, newKey, _ := writeTestCert(t)
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	entry := func(pw string) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return []byte("carol:" + string(h) + "\n")
	}
	if err := os.WriteFile(htpasswd, entry("old-password"), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd, base, stderr := startServeChild(t, "--listen=127.0.0.1:0", "--data="+t.TempDir(),
		"--tls-cert="+certFile, "--tls-key="+keyFile, "--htpasswd="+htpasswd)

	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // the test compares the served certificate itself
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	// served returns the DER of the certificate a new connection gets and
	// the status of a PROPFIND of carol's home with password pw.
	served := func(pw string) ([]byte, int) {
		t.Helper()
		tr.CloseIdleConnections()
		req, _ := http.NewRequest("PROPFIND", base+"/dav/home/carol/", nil)
		req.Header.Set("Depth", "0")
		req.SetBasicAuth("carol", pw)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("PROPFIND: %v\nstderr:\n%s", err, stderr.String())
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].Raw, resp.StatusCode
	}
	der := func(file string) []byte {
		pemBytes, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(pemBytes)
		return b.Bytes
	}
	// replace writes data to file keeping its modification time. The
	// certificate reloader looks at that alone; the htpasswd check looks at
	// the size too, which bcrypt entries of one user keep.
	replace := func(file string, data []byte) {
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if file == htpasswd && int64(len(data)) != st.Size() {
			t.Fatalf("%s: new contents of %d bytes, old %d", file, len(data), st.Size())
		}
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(file, st.ModTime(), st.ModTime()); err != nil {
			t.Fatal(err)
		}
	}

	if cert, status := served("old-password"); !bytes.Equal(cert, der(certFile)) || status != http.StatusMultiStatus {
		t.Fatalf("before: status %d, first certificate served: %v", status, bytes.Equal(cert, der(certFile)))
	}
	oldDER := der(certFile)
	newCertPEM, _ := os.ReadFile(newCert)
	newKeyPEM, _ := os.ReadFile(newKey)
	replace(certFile, newCertPEM)
	replace(keyFile, newKeyPEM)
	replace(htpasswd, entry("new-password"))
	if cert, status := served("new-password"); !bytes.Equal(cert, oldDER) || status != http.StatusUnauthorized {
		t.Fatalf("after replacing, before SIGHUP: status %d (want 401), old certificate %v (want true)", status, bytes.Equal(cert, oldDER))
	}

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The reload runs in the server's signal goroutine: poll until the
	// new certificate is served (the timer above bounds the wait).
	for {
		cert, status := served("new-password")
		if bytes.Equal(cert, der(newCert)) {
			if status != http.StatusMultiStatus {
				t.Errorf("after SIGHUP: new password gets %d, want 207", status)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, status := served("old-password"); status != http.StatusUnauthorized {
		t.Errorf("after SIGHUP: old password gets %d, want 401", status)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGHUP and SIGTERM: %v\nstderr:\n%s", err, stderr.String())
	}
	if !regexp.MustCompile(`msg="reloaded on SIGHUP"`).MatchString(stderr.String()) {
		t.Errorf("no reload logged:\n%s", stderr.String())
	}
}

package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeSecret writes a route secret file and returns its path.
func writeSecret(t *testing.T, secret string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cluster-secret")
	if err := os.WriteFile(f, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// routeHello opens a route to addr as nats-server would, with user and
// pass in its CONNECT (none when user is ""), and returns the first line
// the server answers after its INFO.
func routeHello(t *testing.T, addr, user, pass string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute)) // a loaded machine: the answer ends the wait
	r := bufio.NewReader(c)
	info, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(info, "INFO ") {
		t.Fatalf("route port %s: %q, %v; want INFO", addr, info, err)
	}
	connect := map[string]any{"verbose": false, "pedantic": false, "tls_required": false, "name": "intruder", "cluster": "almanac"}
	if user != "" {
		connect["user"], connect["pass"] = user, pass
	}
	b, _ := json.Marshal(connect)
	if _, err := c.Write([]byte("CONNECT " + string(b) + "\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := r.ReadString('\n')
	if err != nil && line == "" {
		return "closed: " + err.Error()
	}
	return strings.TrimSpace(line)
}

// TestClusterRouteSecret: nodes given --cluster-secret-file form their
// cluster (a write on one is applied on all); their route ports refuse a
// route without the secret or with another one (Authorization
// Violation), and take one with it.
func TestClusterRouteSecret(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories (startCluster)
	const secret = "0123456789abcdef0123456789abcdef"
	nodes := startCluster(t, 3, "--cluster-secret-file="+writeSecret(t, secret))
	mkcalendar(t, nodes[0], "/dav/home/alice/cal/")
	caughtUp(t, nodes)
	addr := nodes[1].Main.Config.Cluster.ClusterListen
	const refused = "-ERR 'Authorization Violation'"
	if got := routeHello(t, addr, "", ""); got != refused {
		t.Errorf("a route without the secret: %q, want %q", got, refused)
	}
	if got := routeHello(t, addr, routeUser, "not-the-secret-at-all"); got != refused {
		t.Errorf("a route with another secret: %q, want %q", got, refused)
	}
	if got := routeHello(t, addr, routeUser, secret); got == refused {
		t.Errorf("a route with the secret was refused")
	}
}

// TestClusterSecretRequired: a node taking routes on an address other
// than loopback needs a secret; a secret file too short is refused.
func TestClusterSecretRequired(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories (startCluster)
	for _, tc := range []struct {
		args  []string
		field string
	}{
		{[]string{"--cluster-listen=0.0.0.0:6222", "--node-name=n1"}, "cluster-secret-file"},
		{[]string{"--cluster-listen=127.0.0.1:6222", "--node-name=n1", "--cluster-tls-cert=x.pem"}, "cluster-tls-cert"},
		{[]string{"--cluster-secret-file=x"}, "cluster-secret-file"},
	} {
		m := NewMain()
		m.Getenv = func(string) string { return "" }
		err := m.ParseFlags(append([]string{"--data=" + t.TempDir()}, tc.args...))
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%v: %v, want a ConfigError on %s", tc.args, err, tc.field)
		}
	}
	c := clusterConfig{ClusterListen: "10.0.0.1:6222", SecretFile: writeSecret(t, "short")}
	if _, err := c.routeAuth(); err == nil {
		t.Error("a 5-character secret was taken")
	}
}

// TestClusterRouteTLS: nodes with --cluster-tls-* (a CA, and a
// certificate it signed for each node) form their cluster over mutual
// TLS; their route ports demand TLS, and refuse a certificate another CA
// signed.
func TestClusterRouteTLS(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories (startCluster)
	dir := t.TempDir()
	ca, caKey := newCA(t, dir, "ca")
	cert, key := newLeaf(t, dir, "node", ca, caKey)
	nodes := startCluster(t, 3, "--cluster-secret-file="+writeSecret(t, "0123456789abcdef0123456789abcdef"),
		"--cluster-tls-cert="+cert, "--cluster-tls-key="+key, "--cluster-tls-ca="+filepath.Join(dir, "ca.pem"))
	mkcalendar(t, nodes[0], "/dav/home/alice/cal/")
	caughtUp(t, nodes)
	addr := nodes[2].Main.Config.Cluster.ClusterListen
	// A route with the nodes' certificate is taken (the server speaks:
	// INFO); one with a certificate of another CA is not.
	if got := tlsRouteHello(t, addr, cert, key); !strings.HasPrefix(got, "INFO ") {
		t.Errorf("a route with the cluster's certificate: %q, want INFO", got)
	}
	other, otherKey := newCA(t, dir, "other")
	ocert, okey := newLeaf(t, dir, "intruder", other, otherKey)
	if got := tlsRouteHello(t, addr, ocert, okey); strings.HasPrefix(got, "INFO ") {
		t.Errorf("a route with a certificate of another CA was taken: %q", got)
	}
}

// tlsRouteHello opens a TLS connection to addr with the certificate in
// cert and key, and returns the first line the server sends, or the
// error.
func tlsRouteHello(t *testing.T, addr, cert, key string) string {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{Timeout: time.Minute}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true}) //nolint:gosec // the server's certificate is not what is tested
	if err != nil {
		return "refused: " + err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute)) // a loaded machine: the answer ends the wait
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		return "refused: " + err.Error()
	}
	return line
}

// newCA writes a CA certificate NAME.pem and returns it with its key.
func newCA(t *testing.T, dir, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

// newLeaf writes a certificate for 127.0.0.1, server and client, signed
// by ca, and its key; it returns their paths.
func newLeaf(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	writePEM(t, cert, "CERTIFICATE", der)
	writePEM(t, key, "EC PRIVATE KEY", kder)
	return cert, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

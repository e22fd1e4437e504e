// Package slapdtest runs Debian's OpenLDAP slapd for tests: a throw-away
// cn=config in a temporary directory, the mdb backend, one base DN, and
// the entries a test gives, on a free loopback port.
package slapdtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/internal/testport"
)

// Base is the base DN of every test directory; RootDN and RootPassword
// are its administrator (the service account tests bind as).
const (
	Base         = "dc=example,dc=org"
	RootDN       = "cn=admin,dc=example,dc=org"
	RootPassword = "admin-secret"
)

// Server is a running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:PORT.
	URL  string
	stop func()
}

// Stop kills slapd now (a directory outage); Start's cleanup also does.
func (s *Server) Stop() { s.stop() }

// Find returns the path of slapd, or skips t when it is missing and the
// CI variable is unset; under CI=true a missing slapd fails t.
func Find(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/slapd", "slapd"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("slapd is not installed (apt-get install slapd ldap-utils); CI=true requires it")
	}
	t.Skip("slapd is not installed (apt-get install slapd ldap-utils); the LDAP tests need it")
	return ""
}

// Hash returns slappasswd's {SSHA} hash of password.
func Hash(t testing.TB, password string) string {
	t.Helper()
	out, err := exec.Command(sbin("slappasswd"), "-s", password).Output()
	if err != nil {
		t.Fatalf("slappasswd: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func sbin(name string) string {
	if p, err := exec.LookPath("/usr/sbin/" + name); err == nil {
		return p
	}
	return name
}

// Start runs slapd with the base entry dc=example,dc=org and entries (an
// LDIF of entries under it), until t ends. tlsCert and tlsKey, when not
// empty, are PEM files slapd offers for StartTLS.
func Start(t testing.TB, entries, tlsCert, tlsKey string) *Server {
	t.Helper()
	slapd := Find(t)
	dir := t.TempDir()
	confDir, dbDir := filepath.Join(dir, "slapd.d"), filepath.Join(dir, "db")
	for _, d := range []string{confDir, dbDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var tlsAttrs string
	if tlsCert != "" {
		tlsAttrs = fmt.Sprintf("olcTLSCertificateFile: %s\nolcTLSCertificateKeyFile: %s\n", tlsCert, tlsKey)
	}
	var schemas bytes.Buffer
	for _, s := range []string{"core", "cosine", "inetorgperson", "nis"} {
		b, err := os.ReadFile("/etc/ldap/schema/" + s + ".ldif")
		if err != nil {
			t.Fatalf("schema %s: %v", s, err)
		}
		schemas.WriteString("\n")
		schemas.Write(b)
	}
	config := fmt.Sprintf(`dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: %[1]s/slapd.pid
%[2]s
dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema
%[3]s
dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 500

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: %[4]s
olcSuffix: %[5]s
olcRootDN: %[6]s
olcRootPW: %[7]s
olcDbMaxSize: 10485760
olcAccess: {0}to attrs=userPassword by anonymous auth by * none
olcAccess: {1}to * by users read by * none
`, dir, tlsAttrs, schemas.String(), dbDir, Base, RootDN, Hash(t, RootPassword))
	run(t, sbin("slapadd"), []byte(config), "-n0", "-F", confDir)
	data := fmt.Sprintf("dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n%s", Base, entries)
	run(t, sbin("slapadd"), []byte(data), "-n1", "-F", confDir)

	// slapd binds a port the test names: one held for the test
	// (testport). Should slapd exit before it listens (a process that
	// binds ports by number may hold the port, and slapd -d 0 does not
	// say why it exits), it runs again on another port. It is ready
	// once its own process listens: a connection alone could reach
	// another server.
	for attempt := 1; ; attempt++ {
		port := testport.Ports(t, 1)[0]
		url := fmt.Sprintf("ldap://127.0.0.1:%d", port)
		srv, logs, err := startSlapd(t, slapd, confDir, url, port)
		if err == nil {
			return srv
		}
		if attempt == 3 {
			t.Fatalf("%v (3 times, on 3 ports): %s", err, logs)
		}
	}
}

// startSlapd runs slapd on url (port) with the configuration in confDir
// and waits until it listens, or exits: then it returns what slapd wrote.
func startSlapd(t testing.TB, slapd, confDir, url string, port int) (*Server, string, error) {
	t.Helper()
	cmd := exec.Command(slapd, "-F", confDir, "-h", url+"/", "-d", "0")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start slapd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	t.Cleanup(stop)
	for deadline := time.Now().Add(2 * time.Minute); ; {
		ours, err := testport.ListensOn(cmd.Process.Pid, port)
		if err != nil {
			t.Fatal(err)
		}
		if ours {
			return &Server{URL: url, stop: stop}, "", nil
		}
		select {
		case <-exited:
			return nil, logs.String(), errors.New("slapd exited")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd does not listen on %s after 2 minutes: %s", url, logs.String())
		}
	}
}

// syncBuffer is a bytes.Buffer that slapd's output and the test may use
// at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func run(t testing.TB, prog string, stdin []byte, args ...string) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
}

// ClosedURL returns an ldap:// URL of a loopback port nothing listens on,
// held for the test (testport) so that nothing will: a directory that is
// down.
func ClosedURL(t testing.TB) string {
	return fmt.Sprintf("ldap://127.0.0.1:%d", testport.Ports(t, 1)[0])
}

// People is the base DN of the users Person makes.
const People = "ou=people," + Base

// Person returns the LDIF of ou=people (when first is true) and of the
// inetOrgPerson uid=UID under it, with cn, password (hashed by
// slappasswd) and mails.
func Person(t testing.TB, first bool, uid, cn, password string, mails ...string) string {
	var b strings.Builder
	if first {
		fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\nou: people\n\n", People)
	}
	fmt.Fprintf(&b, "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n",
		uid, People, uid, cn, cn, Hash(t, password))
	for _, m := range mails {
		fmt.Fprintf(&b, "mail: %s\n", m)
	}
	return b.String() + "\n"
}

// Cert writes a self-signed certificate for 127.0.0.1 and its key as PEM
// files (for Start, or any TLS server of a test) and returns their paths
// and a pool trusting it.
func Cert(t testing.TB) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}

// Groups is the base DN of the groups Group makes.
const Groups = "ou=groups," + Base

// Group returns the LDIF of ou=groups (when first is true) and of the
// groupOfNames cn=CN under it whose members are the given DNs (at least
// one: groupOfNames requires a member).
func Group(first bool, cn string, memberDNs ...string) string {
	var b strings.Builder
	if first {
		fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\nou: groups\n\n", Groups)
	}
	fmt.Fprintf(&b, "dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\n", cn, Groups, cn)
	for _, m := range memberDNs {
		fmt.Fprintf(&b, "member: %s\n", m)
	}
	return b.String() + "\n"
}

// UserDN is the DN of the user Person makes for uid.
func UserDN(uid string) string { return "uid=" + uid + "," + People }

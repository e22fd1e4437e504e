package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

// serverInfoFile is the file in the data directory where a running server
// says how to reach it from this machine; `user` and `token` read it when
// the data directory is locked.
const serverInfoFile = "server.json"

// serverInfo is the content of DATA/server.json. It holds no secret.
type serverInfo struct {
	// URL reaches the server from its own machine: the --listen address,
	// with a loopback address for an unspecified one (0.0.0.0, [::]).
	URL string `json:"url"`
	PID int    `json:"pid"`
	// TLSServerName is the name to verify the server's certificate for
	// (its first DNS name, else its first IP address) when URL is https.
	TLSServerName string `json:"tls_server_name,omitempty"`
	// TLSCert is the certificate file, trusted as a root besides the
	// system's (a self-signed certificate).
	TLSCert string `json:"tls_cert,omitempty"`
}

// localURL returns the URL of a listener at addr as seen from this machine.
func localURL(scheme string, addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.To4() == nil {
			host = "::1"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// writeServerInfo writes DATA/server.json (mode 0600, replaced atomically).
func writeServerInfo(dataDir string, info serverInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dataDir, serverInfoFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// removeServerInfo removes DATA/server.json if it is the one of this
// process.
func removeServerInfo(dataDir string) {
	path := filepath.Join(dataDir, serverInfoFile)
	if info, err := readServerInfo(dataDir); err == nil && info.PID == os.Getpid() {
		os.Remove(path)
	}
}

// readServerInfo reads DATA/server.json.
func readServerInfo(dataDir string) (*serverInfo, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, serverInfoFile))
	if err != nil {
		return nil, err
	}
	var info serverInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dataDir, serverInfoFile), err)
	}
	if info.URL == "" {
		return nil, fmt.Errorf("%s: no url", filepath.Join(dataDir, serverInfoFile))
	}
	return &info, nil
}

// tlsServerName returns the name a client verifies certFile's leaf
// certificate for: its first DNS name, else its first IP address.
func tlsServerName(certFile string) string {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return ""
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return ""
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	switch {
	case err != nil:
		return ""
	case len(leaf.DNSNames) > 0:
		return leaf.DNSNames[0]
	case len(leaf.IPAddresses) > 0:
		return leaf.IPAddresses[0].String()
	}
	return ""
}

// httpClient returns the client that talks to the server info describes:
// for https, verifying the certificate for TLSServerName against the
// system's roots and the server's own certificate file, when readable.
func (info *serverInfo) httpClient() *http.Client {
	if info.TLSServerName == "" && info.TLSCert == "" {
		return nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if b, err := os.ReadFile(info.TLSCert); err == nil {
		pool.AppendCertsFromPEM(b)
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: info.TLSServerName, MinVersion: tls.VersionTLS12},
	}}
}

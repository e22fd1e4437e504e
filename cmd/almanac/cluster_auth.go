package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// Route authentication: the embedded log servers of a cluster take routes
// only from servers that present the cluster's secret (nats-server's
// cluster authorization: a user and password every route's CONNECT must
// carry), and, with --cluster-tls-*, only over mutual TLS with a
// certificate the cluster's CA signed. Without them any process that
// reaches --cluster-listen could join the NATS cluster and read or write
// the log.

// routeUser is the user name of every route; the secret is its password.
const routeUser = "almanac-route"

// minRouteSecret is the shortest secret taken, in bytes.
const minRouteSecret = 16

func (c *clusterConfig) authFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.SecretFile, "cluster-secret-file", "", "`file` holding the secret (one line, at least 16 characters: openssl rand -hex 32) the routes between the nodes present; the same on every node; required unless --cluster-listen is on loopback")
	fs.StringVar(&c.TLSCert, "cluster-tls-cert", "", "certificate `file` (PEM) of this node's routes: with --cluster-tls-key and --cluster-tls-ca the routes run over mutual TLS")
	fs.StringVar(&c.TLSKey, "cluster-tls-key", "", "private key `file` (PEM) of --cluster-tls-cert")
	fs.StringVar(&c.TLSCA, "cluster-tls-ca", "", "CA certificate `file` (PEM) that signed every node's --cluster-tls-cert")
}

// validateAuth checks the route authentication flags.
func (c *clusterConfig) validateAuth() error {
	bad := func(field, format string, a ...any) error {
		return &ConfigError{Field: field, Err: fmt.Errorf(format, a...)}
	}
	n := 0
	for _, f := range []string{c.TLSCert, c.TLSKey, c.TLSCA} {
		if f != "" {
			n++
		}
	}
	if n != 0 && n != 3 {
		return bad("cluster-tls-cert", "route TLS needs all of --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca")
	}
	if c.ClusterListen == "" {
		if c.SecretFile != "" || n != 0 {
			return bad("cluster-secret-file", "--cluster-secret-file and --cluster-tls-* are for the embedded log servers: they need --cluster-listen")
		}
		return nil
	}
	if c.SecretFile == "" && !loopback(c.ClusterListen) {
		return bad("cluster-secret-file", "--cluster-listen %s is not on loopback: give the nodes a shared --cluster-secret-file so that no other process can join", c.ClusterListen)
	}
	return nil
}

// loopback reports whether the host of addr is a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// routeAuthorization is what a log server's routes present and demand.
type routeAuthorization struct {
	user     *url.Userinfo // in each route URL; nil without a secret
	password string
	tls      *tls.Config // nil without route TLS
}

// routeAuth reads the secret file and the TLS files.
func (c *clusterConfig) routeAuth() (*routeAuthorization, error) {
	a := &routeAuthorization{}
	if c.SecretFile != "" {
		b, err := os.ReadFile(c.SecretFile)
		if err != nil {
			return nil, &ConfigError{Field: "cluster-secret-file", Err: err}
		}
		secret := strings.TrimSpace(string(b))
		if len(secret) < minRouteSecret || strings.ContainsAny(secret, "\r\n") {
			return nil, &ConfigError{Field: "cluster-secret-file", Err: fmt.Errorf("%s: want one line of at least %d characters", c.SecretFile, minRouteSecret)}
		}
		a.user, a.password = url.UserPassword(routeUser, secret), secret
	}
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, &ConfigError{Field: "cluster-tls-cert", Err: err}
		}
		pem, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return nil, &ConfigError{Field: "cluster-tls-ca", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &ConfigError{Field: "cluster-tls-ca", Err: errors.New("no PEM certificate in " + c.TLSCA)}
		}
		// Each end of a route is server and client at once: both
		// present the node's certificate and verify the other's.
		a.tls = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			RootCAs:      pool,
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
		}
	}
	return a, nil
}

// apply sets the routes' authorization and TLS in o.
func (a *routeAuthorization) apply(o server.ClusterOpts) server.ClusterOpts {
	if a.user != nil {
		o.Username, o.Password = routeUser, a.password
	}
	if a.tls != nil {
		o.TLSConfig, o.TLSTimeout = a.tls, 5
	}
	return o
}

package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/auth/ldapauth"
)

// ldapConfig is the LDAP directory users may sign in from (--ldap-*).
type ldapConfig struct {
	URL              string
	StartTLS         bool
	CAFile           string
	BindDN           string
	BindPasswordFile string
	UserBase         string
	UserFilter       string
	DisplayNameAttr  string
	EmailAttr        string
	Timeout          time.Duration
	MaxConns         int
}

func (l *ldapConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&l.URL, "ldap-url", "", "LDAP directory `URL` (ldap://host:port or ldaps://host:port) whose users may sign in; consulted after the accounts and --htpasswd (default none)")
	fs.BoolVar(&l.StartTLS, "ldap-starttls", false, "upgrade an ldap:// connection with StartTLS before any bind")
	fs.StringVar(&l.CAFile, "ldap-ca-file", "", "PEM `file` of the CA certificates trusted for ldaps:// and StartTLS (default: the system's)")
	fs.StringVar(&l.BindDN, "ldap-bind-dn", "", "`DN` of the service account that searches for users (default: anonymous search)")
	fs.StringVar(&l.BindPasswordFile, "ldap-bind-password-file", "", "`file` holding the service account's password (one line)")
	fs.StringVar(&l.UserBase, "ldap-user-base", "", "base `DN` of the user search (whole subtree); required with --ldap-url")
	fs.StringVar(&l.UserFilter, "ldap-user-filter", "(uid=%s)", "user search `filter`; %s is the escaped user name, exactly one entry must match")
	fs.StringVar(&l.DisplayNameAttr, "ldap-display-name-attr", "cn", "`attribute` of the user's display name")
	fs.StringVar(&l.EmailAttr, "ldap-email-attr", "mail", "`attribute` of the user's email addresses")
	fs.DurationVar(&l.Timeout, "ldap-timeout", 5*time.Second, "timeout of the LDAP dial and of each LDAP request")
	fs.IntVar(&l.MaxConns, "ldap-max-connections", 8, "most LDAP connections open at once (one per login being checked); more logins wait")
}

// config returns the ldapauth configuration, reading the password file.
func (l *ldapConfig) config() (ldapauth.Config, error) {
	c := ldapauth.Config{
		URL: l.URL, StartTLS: l.StartTLS, BindDN: l.BindDN, UserBase: l.UserBase,
		UserFilter: l.UserFilter, DisplayNameAttr: l.DisplayNameAttr, EmailAttr: l.EmailAttr,
		Timeout: l.Timeout, MaxConns: l.MaxConns,
	}
	if l.BindPasswordFile != "" {
		b, err := os.ReadFile(l.BindPasswordFile)
		if err != nil {
			return c, &ConfigError{Field: "ldap-bind-password-file", Err: err}
		}
		c.BindPassword = strings.TrimRight(string(b), "\r\n")
	}
	if l.CAFile != "" {
		b, err := os.ReadFile(l.CAFile)
		if err != nil {
			return c, &ConfigError{Field: "ldap-ca-file", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return c, &ConfigError{Field: "ldap-ca-file", Err: fmt.Errorf("no PEM certificate in %s", l.CAFile)}
		}
		c.TLS = &tls.Config{RootCAs: pool}
	}
	return c, nil
}

func (l *ldapConfig) validate() error {
	bad := func(field string, err error) error { return &ConfigError{Field: field, Err: err} }
	if l.URL == "" {
		for _, f := range []struct {
			name string
			set  bool
		}{{"ldap-starttls", l.StartTLS}, {"ldap-ca-file", l.CAFile != ""}, {"ldap-bind-dn", l.BindDN != ""},
			{"ldap-bind-password-file", l.BindPasswordFile != ""}, {"ldap-user-base", l.UserBase != ""}} {
			if f.set {
				return bad(f.name, fmt.Errorf("needs --ldap-url"))
			}
		}
		return nil
	}
	if l.Timeout <= 0 {
		return bad("ldap-timeout", fmt.Errorf("must be positive, got %s", l.Timeout))
	}
	if l.MaxConns <= 0 {
		return bad("ldap-max-connections", fmt.Errorf("must be positive, got %d", l.MaxConns))
	}
	c, _ := l.config() // the password file is read at start
	if _, err := ldapauth.New(c); err != nil {
		return bad("ldap-url", err)
	}
	return nil
}

// directory returns the LDAP directory, or nil without --ldap-url.
func (l *ldapConfig) directory() (*ldapauth.Directory, error) {
	if l.URL == "" {
		return nil, nil
	}
	c, err := l.config()
	if err != nil {
		return nil, err
	}
	d, err := ldapauth.New(c)
	if err != nil {
		return nil, &ConfigError{Field: "ldap-url", Err: err}
	}
	return d, nil
}

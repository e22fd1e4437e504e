package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/auth"
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
	GroupBase        string
	GroupFilter      string
	GroupNameAttr    string
	GroupMemberAttr  string
	UserNameAttr     string
	GroupRefresh     time.Duration
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
	fs.StringVar(&l.GroupBase, "ldap-group-base", "", "base `DN` of the group search (whole subtree): the directory's groups become Almanac groups, refreshed at start, every --ldap-group-refresh and after a directory sign-in (default: no groups)")
	fs.StringVar(&l.GroupFilter, "ldap-group-filter", "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))", "group search `filter`")
	fs.StringVar(&l.GroupNameAttr, "ldap-group-name-attr", "cn", "`attribute` of a group's name")
	fs.StringVar(&l.GroupMemberAttr, "ldap-group-member-attr", "member", "`attribute` of a group's members: user DNs (member, uniqueMember) or user names (memberUid)")
	fs.StringVar(&l.UserNameAttr, "ldap-user-name-attr", "uid", "`attribute` of a member DN's first RDN that is the user name")
	fs.DurationVar(&l.GroupRefresh, "ldap-group-refresh", 5*time.Minute, "how often the directory's groups are read again")
}

// config returns the ldapauth configuration, reading the password file.
func (l *ldapConfig) config() (ldapauth.Config, error) {
	c := ldapauth.Config{
		URL: l.URL, StartTLS: l.StartTLS, BindDN: l.BindDN, UserBase: l.UserBase,
		UserFilter: l.UserFilter, DisplayNameAttr: l.DisplayNameAttr, EmailAttr: l.EmailAttr,
		Timeout: l.Timeout, MaxConns: l.MaxConns,
		GroupBase: l.GroupBase, GroupFilter: l.GroupFilter, GroupNameAttr: l.GroupNameAttr,
		GroupMemberAttr: l.GroupMemberAttr, UserNameAttr: l.UserNameAttr,
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
			{"ldap-bind-password-file", l.BindPasswordFile != ""}, {"ldap-user-base", l.UserBase != ""},
			{"ldap-group-base", l.GroupBase != ""}} {
			if f.set {
				return bad(f.name, fmt.Errorf("needs --ldap-url"))
			}
		}
		return nil
	}
	if l.Timeout <= 0 {
		return bad("ldap-timeout", fmt.Errorf("must be positive, got %s", l.Timeout))
	}
	if l.GroupRefresh < time.Second {
		return bad("ldap-group-refresh", fmt.Errorf("must be at least 1s, got %s", l.GroupRefresh))
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

// ldapGroupMinInterval is the least time between two group syncs a
// sign-in asks for: a burst of sign-ins reads the groups once.
const ldapGroupMinInterval = 10 * time.Second

// ldapGroups keeps the engine's groups in step with the directory's
// (--ldap-group-base).
type ldapGroups struct {
	sync *auth.DirectoryGroups
	kick chan struct{}
}

// newLDAPGroups returns the group sync of dir, or nil without
// --ldap-group-base.
func (m *Main) newLDAPGroups(dir *ldapauth.Directory) *ldapGroups {
	if dir == nil || m.Config.LDAP.GroupBase == "" {
		return nil
	}
	return &ldapGroups{
		sync: &auth.DirectoryGroups{Source: dir, DB: m.DB, Logger: m.Logger.With("component", "ldap-groups"), Actor: ldapGroupActor},
		kick: make(chan struct{}, 1),
	}
}

// ldapGroupActor is the actor of the group events of LDAP groups.
const ldapGroupActor = "ldap"

// signedIn is auth.Options.DirectoryLogin: a sync soon (coalesced).
func (g *ldapGroups) signedIn(string) {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// defines reports whether the directory defined group name at the last
// sync (false without groups).
func (g *ldapGroups) defines(name string) bool { return g != nil && g.sync.Defines(name) }

// start syncs the groups now, every --ldap-group-refresh and after
// sign-ins (at most once per ldapGroupMinInterval), until serve stops. A
// directory that cannot be read keeps the groups as they are and is
// logged; it does not stop serve.
func (m *Main) startLDAPGroups(g *ldapGroups) {
	if g == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	run := func() {
		sctx, stop := context.WithTimeout(ctx, 4*m.Config.LDAP.Timeout)
		defer stop()
		if err := g.sync.Sync(sctx); err != nil && ctx.Err() == nil {
			m.Logger.Error("LDAP groups unreadable; keeping the groups as they are", "err", err)
		}
	}
	go func() {
		defer close(done)
		t := time.NewTicker(m.Config.LDAP.GroupRefresh)
		defer t.Stop()
		for {
			run()
			select {
			case <-ctx.Done():
				return
			case <-time.After(ldapGroupMinInterval):
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-g.kick:
			}
		}
	}()
	m.stops = append(m.stops, hookStop{"ldap-groups", func(context.Context) error {
		cancel()
		<-done
		return nil
	}})
}

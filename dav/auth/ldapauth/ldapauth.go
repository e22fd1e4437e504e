// Package ldapauth checks passwords against an LDAP directory (RFC 4511)
// with github.com/go-ldap/ldap/v3: a service bind, a search that must find
// exactly one entry for the user name, then a bind as that entry's DN with
// the password the client sent.
//
// Every login opens its own connection and closes it when done: a bind
// changes the connection's identity, so a pooled connection would have to
// be bound back to the service account before reuse, and logins are rare
// (package auth caches successes). At most MaxConns connections are open
// at once; more logins wait for a turn or for their context to end. Each
// dial and each request has a timeout, and a login's context ending
// closes its connection at once.
package ldapauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/auth"
	"github.com/go-ldap/ldap/v3"
)

var _ auth.Directory = (*Directory)(nil)

var (
	// ErrBadCredentials: no single entry matches the user name, or the
	// directory refused the password. The cases are not told apart. It
	// matches auth.ErrBadCredentials.
	ErrBadCredentials = fmt.Errorf("ldap: %w", auth.ErrBadCredentials)
	// ErrUnavailable: the directory could not be reached or answered with
	// an error other than a refused password (the service bind failed, a
	// search or bind timed out, ...). It is never a login success.
	ErrUnavailable = errors.New("ldap: directory unavailable")
)

// Config is the directory to consult. The zero value of every field but
// URL and UserBase means its default.
type Config struct {
	// URL is ldap://host:port or ldaps://host:port. Required.
	URL string
	// StartTLS upgrades an ldap:// connection with the StartTLS extended
	// operation before any bind.
	StartTLS bool
	// TLS configures ldaps:// and StartTLS. Default: the system's roots,
	// the URL's host name as ServerName.
	TLS *tls.Config
	// BindDN and BindPassword are the service account that searches for
	// users. Both empty: an anonymous search.
	BindDN, BindPassword string
	// UserBase is the base DN of the user search (whole subtree). Required.
	UserBase string
	// UserFilter is the search filter with one %s for the user name,
	// which is escaped (ldap.EscapeFilter) first. Default "(uid=%s)".
	UserFilter string
	// DisplayNameAttr and EmailAttr name the attributes read from the
	// user's entry. Defaults "cn" and "mail".
	DisplayNameAttr, EmailAttr string
	// GroupBase is the base DN of the group search (whole subtree); empty:
	// no groups are read (Groups returns ErrNoGroups).
	GroupBase string
	// GroupFilter selects the group entries. Default
	// "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))".
	GroupFilter string
	// GroupNameAttr names a group's attribute that is its name in Almanac.
	// Default "cn".
	GroupNameAttr string
	// GroupMemberAttr names a group's attribute listing its members:
	// either DNs of user entries under UserBase whose first RDN is
	// UserNameAttr (member, uniqueMember: uid=alice,ou=people,...), or
	// plain user names (memberUid). Default "member".
	GroupMemberAttr string
	// UserNameAttr is the attribute of a user entry's first RDN that is
	// the user name, for member DNs. Default "uid".
	UserNameAttr string
	// MaxGroups bounds the groups read; a directory with more is an
	// error, never a partial list (which would delete the rest). Default
	// 1000.
	MaxGroups int
	// Timeout bounds the dial and each request. Default 5s.
	Timeout time.Duration
	// MaxConns bounds the connections open at once. Default 8.
	MaxConns int
}

// EnsureDefaults fills in every zero field with its default.
func (c *Config) EnsureDefaults() {
	if c.UserFilter == "" {
		c.UserFilter = "(uid=%s)"
	}
	if c.DisplayNameAttr == "" {
		c.DisplayNameAttr = "cn"
	}
	if c.EmailAttr == "" {
		c.EmailAttr = "mail"
	}
	if c.GroupFilter == "" {
		c.GroupFilter = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"
	}
	if c.GroupNameAttr == "" {
		c.GroupNameAttr = "cn"
	}
	if c.GroupMemberAttr == "" {
		c.GroupMemberAttr = "member"
	}
	if c.UserNameAttr == "" {
		c.UserNameAttr = "uid"
	}
	if c.MaxGroups == 0 {
		c.MaxGroups = 1000
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MaxConns == 0 {
		c.MaxConns = 8
	}
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	switch {
	case !strings.HasPrefix(c.URL, "ldap://") && !strings.HasPrefix(c.URL, "ldaps://"):
		return fmt.Errorf("ldap: URL must be ldap://host:port or ldaps://host:port, got %q", c.URL)
	case c.StartTLS && strings.HasPrefix(c.URL, "ldaps://"):
		return errors.New("ldap: StartTLS is for ldap:// URLs; ldaps:// is TLS already")
	case c.UserBase == "":
		return errors.New("ldap: the user base DN is required")
	case strings.Count(c.UserFilter, "%s") != 1 || strings.Count(c.UserFilter, "%") != 1:
		return fmt.Errorf("ldap: the user filter must hold one %%s and no other %%, got %q", c.UserFilter)
	case c.Timeout < 0:
		return fmt.Errorf("ldap: timeout must not be negative, got %s", c.Timeout)
	case c.MaxConns < 0:
		return fmt.Errorf("ldap: MaxConns must not be negative, got %d", c.MaxConns)
	case c.MaxGroups < 0:
		return fmt.Errorf("ldap: MaxGroups must not be negative, got %d", c.MaxGroups)
	}
	if _, err := ldap.CompileFilter(fmt.Sprintf(c.UserFilter, "x")); err != nil {
		return fmt.Errorf("ldap: user filter %q: %w", c.UserFilter, err)
	}
	if _, err := ldap.CompileFilter(c.GroupFilter); err != nil {
		return fmt.Errorf("ldap: group filter %q: %w", c.GroupFilter, err)
	}
	if _, err := ldap.ParseDN(c.UserBase); err != nil {
		return fmt.Errorf("ldap: user base %q: %w", c.UserBase, err)
	}
	return nil
}

// User is what the directory says of an authenticated user.
type User struct {
	// DN is the user's entry.
	DN string
	// DisplayName is the first value of Config.DisplayNameAttr, or "".
	DisplayName string
	// Emails are the values of Config.EmailAttr.
	Emails []string
}

// Directory authenticates users against an LDAP server. It is safe for
// concurrent use.
type Directory struct {
	cfg      Config
	userBase *ldap.DN
	conns    chan struct{} // one token per open connection
}

// New returns a Directory for cfg. It does not connect.
func New(cfg Config) (*Directory, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, _ := ldap.ParseDN(cfg.UserBase) // Validate parsed it
	return &Directory{cfg: cfg, userBase: base, conns: make(chan struct{}, cfg.MaxConns)}, nil
}

// maxUserLen bounds the user names sent to the directory.
const maxUserLen = 256

// Authenticate checks name's password. An empty password is refused
// before any connection: a simple bind with a DN and no password is an
// unauthenticated bind (RFC 4513 §5.1.2), which servers answer with
// success.
//
// Errors: ErrBadCredentials; ErrUnavailable (wrapping the cause); ctx's
// error when it ended first.
func (d *Directory) Authenticate(ctx context.Context, name, password string) (*User, error) {
	if password == "" || name == "" || len(name) > maxUserLen {
		return nil, ErrBadCredentials
	}
	var u *User
	err := d.with(ctx, func(conn *ldap.Conn) (err error) {
		u, err = d.login(conn, name, password)
		return err
	})
	return u, err
}

// with runs fn on a new connection, within MaxConns, closing it when fn
// returns or ctx ends.
func (d *Directory) with(ctx context.Context, fn func(*ldap.Conn) error) error {
	select {
	case d.conns <- struct{}{}:
		defer func() { <-d.conns }()
	case <-ctx.Done():
		return fmt.Errorf("ldap: waiting for a connection: %w", ctx.Err())
	}
	conn, err := d.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	err = fn(conn)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("ldap: %w", ctx.Err())
	}
	return err
}

func (d *Directory) dial(ctx context.Context) (*ldap.Conn, error) {
	dialer := &net.Dialer{Timeout: d.cfg.Timeout}
	opts := []ldap.DialOpt{ldap.DialWithDialer(dialer)}
	if d.cfg.TLS != nil {
		opts = append(opts, ldap.DialWithTLSConfig(d.cfg.TLS))
	}
	if dl, ok := ctx.Deadline(); ok {
		dialer.Deadline = dl
	}
	conn, err := ldap.DialURL(d.cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", ErrUnavailable, d.cfg.URL, err)
	}
	conn.SetTimeout(d.cfg.Timeout)
	if d.cfg.StartTLS {
		tc := d.cfg.TLS
		if tc == nil {
			tc = &tls.Config{}
		}
		if tc.ServerName == "" {
			tc = tc.Clone()
			tc.ServerName = urlHost(d.cfg.URL)
		}
		if err := conn.StartTLS(tc); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%w: StartTLS: %w", ErrUnavailable, err)
		}
	}
	return conn, nil
}

// urlHost is the host name of an ldap:// URL.
func urlHost(u string) string {
	hp := u[strings.Index(u, "://")+3:]
	hp, _, _ = strings.Cut(hp, "/")
	if h, _, err := net.SplitHostPort(hp); err == nil {
		return h
	}
	return hp
}

// serviceBind binds conn as the service account, when there is one.
func (d *Directory) serviceBind(conn *ldap.Conn) error {
	if d.cfg.BindDN != "" || d.cfg.BindPassword != "" {
		if err := conn.Bind(d.cfg.BindDN, d.cfg.BindPassword); err != nil {
			// The service account's refusal is the server's problem, not
			// the user's: never a bad password of theirs.
			return fmt.Errorf("%w: service bind as %q: %w", ErrUnavailable, d.cfg.BindDN, err)
		}
	}
	return nil
}

func (d *Directory) login(conn *ldap.Conn, name, password string) (*User, error) {
	if err := d.serviceBind(conn); err != nil {
		return nil, err
	}
	req := ldap.NewSearchRequest(d.cfg.UserBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(max(1, d.cfg.Timeout/time.Second)), false,
		fmt.Sprintf(d.cfg.UserFilter, ldap.EscapeFilter(name)),
		[]string{d.cfg.DisplayNameAttr, d.cfg.EmailAttr}, nil)
	res, err := conn.Search(req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return nil, ErrBadCredentials // more than one entry: ambiguous
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return nil, fmt.Errorf("%w: user base %q does not exist", ErrUnavailable, d.cfg.UserBase)
	case err != nil:
		return nil, fmt.Errorf("%w: search: %w", ErrUnavailable, err)
	case len(res.Entries) != 1:
		return nil, ErrBadCredentials
	}
	e := res.Entries[0]
	if err := conn.Bind(e.DN, password); err != nil {
		// A refused password, and the codes servers use for a locked or
		// disabled account (password policy).
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) ||
			ldap.IsErrorWithCode(err, ldap.LDAPResultInappropriateAuthentication) ||
			ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) ||
			ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights) {
			return nil, ErrBadCredentials
		}
		return nil, fmt.Errorf("%w: bind as %q: %w", ErrUnavailable, e.DN, err)
	}
	return &User{
		DN:          e.DN,
		DisplayName: e.GetAttributeValue(d.cfg.DisplayNameAttr),
		Emails:      e.GetAttributeValues(d.cfg.EmailAttr),
	}, nil
}

// Verify is Authenticate for auth.Options.Directory.
func (d *Directory) Verify(ctx context.Context, name, password string) (*auth.DirectoryUser, error) {
	u, err := d.Authenticate(ctx, name, password)
	if err != nil {
		return nil, err
	}
	return &auth.DirectoryUser{DisplayName: u.DisplayName, Emails: u.Emails, Source: "ldap"}, nil
}

// ErrNoGroups is Groups' error without Config.GroupBase.
var ErrNoGroups = errors.New("ldap: no group base configured")

// maxGroupMembers bounds the members read of one group (the engine refuses
// a larger group whole: engine.MaxGroupMembers is smaller).
const maxGroupMembers = 10000

// Groups reads the directory's groups as the service account: every entry
// under GroupBase matching GroupFilter, named by GroupNameAttr, with the
// user names of its GroupMemberAttr values (sorted, unique). A member DN
// that is not a user entry under UserBase named by UserNameAttr in its
// first RDN is skipped (a nested group, another tree): groups do not nest
// in Almanac. Values without "=" are user names (memberUid).
//
// Errors: ErrNoGroups; ErrUnavailable (wrapping the cause), also when the
// directory holds more than MaxGroups groups; ctx's error.
func (d *Directory) Groups(ctx context.Context) (map[string][]string, error) {
	if d.cfg.GroupBase == "" {
		return nil, ErrNoGroups
	}
	var groups map[string][]string
	err := d.with(ctx, func(conn *ldap.Conn) error {
		if err := d.serviceBind(conn); err != nil {
			return err
		}
		req := ldap.NewSearchRequest(d.cfg.GroupBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			d.cfg.MaxGroups+1, int(max(1, d.cfg.Timeout/time.Second)), false, d.cfg.GroupFilter,
			[]string{d.cfg.GroupNameAttr, d.cfg.GroupMemberAttr}, nil)
		res, err := conn.Search(req)
		switch {
		case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || err == nil && len(res.Entries) > d.cfg.MaxGroups:
			return fmt.Errorf("%w: more than %d groups under %q", ErrUnavailable, d.cfg.MaxGroups, d.cfg.GroupBase)
		case err != nil:
			return fmt.Errorf("%w: group search: %w", ErrUnavailable, err)
		}
		groups = make(map[string][]string, len(res.Entries))
		for _, e := range res.Entries {
			name := e.GetAttributeValue(d.cfg.GroupNameAttr)
			if name == "" {
				continue
			}
			var members []string
			for _, v := range e.GetAttributeValues(d.cfg.GroupMemberAttr) {
				if u := d.memberName(v); u != "" && len(members) < maxGroupMembers {
					members = append(members, u)
				}
			}
			slices.Sort(members)
			groups[name] = slices.Compact(append(groups[name], members...))
		}
		return nil
	})
	return groups, err
}

// memberName is the user name a group member value names, or "".
func (d *Directory) memberName(v string) string {
	if !strings.Contains(v, "=") {
		return strings.TrimSpace(v)
	}
	dn, err := ldap.ParseDN(v)
	if err != nil || len(dn.RDNs) == 0 || len(dn.RDNs[0].Attributes) != 1 || !d.userBase.AncestorOfFold(dn) {
		return ""
	}
	if a := dn.RDNs[0].Attributes[0]; strings.EqualFold(a.Type, d.cfg.UserNameAttr) {
		return a.Value
	}
	return ""
}

package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
)

// MaxProxies is the most delegates one user may have, and the most
// delegators one user or group may be a delegate of.
const MaxProxies = 256

// Proxy is one delegation (Apple's calendar-proxy): Delegate (a user or a
// group) may read (AccessRead) or read and write (AccessReadWrite)
// Delegator's whole home, through the delegator's own URLs.
type Proxy struct {
	Delegator string
	Delegate  string
	Access    Access
	// Seq is the event that set the delegation.
	Seq Seq
}

// SetProxy makes delegate (a user or a group) a read (AccessRead) or
// write (AccessReadWrite) delegate of delegator's whole home, or withdraws
// the delegation (AccessNone). The caller checks that m.Actor may (the
// delegator, or an administrator).
//
// Errors: ErrNotFound (no user delegator, no user or group delegate, or
// nothing to withdraw); ErrConflict (delegator as its own delegate);
// ErrInvalidName (access out of range); *SharingLimitError.
func (db *DB) SetProxy(ctx context.Context, m Meta, delegator, delegate string, access Access) error {
	if access != AccessNone && access != AccessRead && access != AccessReadWrite {
		return fmt.Errorf("%w: proxy access %v", ErrInvalidName, access)
	}
	return db.submit(ctx, &proxyCmd{m: m, p: Proxy{Delegator: delegator, Delegate: delegate, Access: access}})
}

type proxyCmd struct {
	m Meta
	p Proxy
}

func (c *proxyCmd) run(tx *txn) error {
	if _, err := getBytes(tx.rw, keys.UserKey(c.p.Delegator)); err != nil {
		return fmt.Errorf("proxy of %q: %w", c.p.Delegator, err)
	}
	if c.p.Delegate == c.p.Delegator {
		return fmt.Errorf("%w: %q cannot be their own delegate", ErrConflict, c.p.Delegate)
	}
	list, err := getGrantList(tx.rw, keys.ProxyKey(c.p.Delegator))
	if err != nil {
		return err
	}
	had := slices.ContainsFunc(list.Grants, func(g *statev1.Grant) bool { return g.Grantee == c.p.Delegate })
	switch {
	case c.p.Access == AccessNone && !had:
		return fmt.Errorf("%w: %q is no delegate of %q", ErrNotFound, c.p.Delegate, c.p.Delegator)
	case c.p.Access != AccessNone && !had:
		if ok, err := principalExists(tx.rw, c.p.Delegate); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: no user or group %q", ErrNotFound, c.p.Delegate)
		}
		if len(list.Grants) >= MaxProxies {
			return &SharingLimitError{What: "delegates of " + c.p.Delegator, Limit: MaxProxies}
		}
		of, err := getNames(tx.rw, keys.ProxyOfKey(c.p.Delegate))
		if err != nil {
			return err
		}
		if len(of.Names) >= MaxProxies {
			return &SharingLimitError{What: "delegations to " + c.p.Delegate, Limit: MaxProxies}
		}
	}
	return tx.append(c.m, &eventv1.Event{Op: eventv1.Op_OP_PROXY_SET, Owner: c.p.Delegator, Proxy: &eventv1.Proxy{
		Delegator: c.p.Delegator, Delegate: c.p.Delegate, Access: proxyAccessToProto(c.p.Access),
	}})
}

func proxyAccessToProto(a Access) eventv1.ProxyAccess {
	switch a {
	case AccessRead:
		return eventv1.ProxyAccess_PROXY_ACCESS_READ
	case AccessReadWrite:
		return eventv1.ProxyAccess_PROXY_ACCESS_WRITE
	}
	return eventv1.ProxyAccess_PROXY_ACCESS_UNSPECIFIED
}

func proxyAccessFromProto(a eventv1.ProxyAccess) Access {
	switch a {
	case eventv1.ProxyAccess_PROXY_ACCESS_READ:
		return AccessRead
	case eventv1.ProxyAccess_PROXY_ACCESS_WRITE:
		return AccessReadWrite
	}
	return AccessNone
}

// getGrantList reads a list of (principal, access) at key: the delegates
// of a delegator (statev1.Grants, the access in ShareAccess terms).
func getGrantList(r getter, key []byte) (*statev1.Grants, error) {
	g := &statev1.Grants{}
	if err := getProto(r, key, g); err != nil && err != ErrNotFound {
		return nil, err
	}
	return g, nil
}

// applyProxy keeps x<delegator> (the delegates, sorted, with their
// access) and v<delegate> (the delegators).
func applyProxy(rw readWriter, ev *eventv1.Event) error {
	p := ev.Proxy
	key := keys.ProxyKey(p.GetDelegator())
	list, err := getGrantList(rw, key)
	if err != nil {
		return err
	}
	list.Grants = slices.DeleteFunc(list.Grants, func(g *statev1.Grant) bool { return g.Grantee == p.Delegate })
	access := proxyAccessFromProto(p.Access)
	if access != AccessNone {
		list.Grants = append(list.Grants, &statev1.Grant{Grantee: p.Delegate, Access: accessToProto(access), Seq: ev.Seq})
		slices.SortFunc(list.Grants, func(a, b *statev1.Grant) int { return strings.Compare(a.Grantee, b.Grantee) })
	}
	if err := setOrDelete(rw, key, list, len(list.Grants) == 0); err != nil {
		return err
	}
	return editNames(rw, keys.ProxyOfKey(p.Delegate), p.Delegator, access != AccessNone)
}

// proxyAccess returns what user may do in delegator's home as a delegate,
// directly or through one of the user's groups (read through cache).
func proxyAccess(r getter, cache *groupCache, delegator, user string) (Access, error) {
	list, err := getGrantList(r, keys.ProxyKey(delegator))
	if err != nil || len(list.Grants) == 0 {
		return AccessNone, err
	}
	var groups []string
	read := false
	best := AccessNone
	for _, g := range list.Grants {
		if g.Grantee != user {
			if !read {
				if groups, err = cache.groupsOf(r, user); err != nil {
					return AccessNone, err
				}
				read = true
			}
			if _, in := slices.BinarySearch(groups, g.Grantee); !in {
				continue
			}
		}
		best = max(best, accessFromProto(g.Access))
	}
	return best, nil
}

// Proxies returns the delegates of delegator, by name.
func (v *View) Proxies(delegator string) ([]*Proxy, error) {
	list, err := getGrantList(v.v.snap, keys.ProxyKey(delegator))
	if err != nil {
		return nil, err
	}
	out := make([]*Proxy, 0, len(list.Grants))
	for _, g := range list.Grants {
		out = append(out, &Proxy{Delegator: delegator, Delegate: g.Grantee, Access: accessFromProto(g.Access), Seq: Seq(g.Seq)})
	}
	return out, nil
}

// ProxyFor returns the delegations made to principal itself (a user or a
// group; not through groups), by delegator: CS:calendar-proxy-read-for and
// calendar-proxy-write-for of its principal resource.
func (v *View) ProxyFor(principal string) ([]*Proxy, error) {
	of, err := getNames(v.v.snap, keys.ProxyOfKey(principal))
	if err != nil {
		return nil, err
	}
	var out []*Proxy
	for _, d := range of.Names {
		ps, err := v.Proxies(d)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if p.Delegate == principal {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

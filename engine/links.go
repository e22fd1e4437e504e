package engine

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
)

// MaxLinksPerCollection is the most public links one collection may have.
const MaxLinksPerCollection = 16

// linkIDLen is the length of a link's id: the first hex digits of its
// token's hash, enough to name it in a list, useless to guess the token.
const linkIDLen = 12

// Link is a public, read-only link to a collection: whoever holds its
// token reads the collection without authentication. Only a hash of the
// token is stored.
type Link struct {
	// ID names the link in lists and revocations (the first 12 hex digits
	// of the token's SHA-256).
	ID string
	// CollectionID and Path name the collection (Path as it is now).
	CollectionID uint64
	Path         string
	// FreeBusyOnly: the link serves free-busy time only.
	FreeBusyOnly bool
	// Token is a published link's token (Publish), which the server
	// derives again from the store secret and the link's random id; empty
	// for a link made by CreateLink, whose token was shown once.
	Token   string
	Actor   string
	Created time.Time
	Seq     Seq
}

// tokenHash returns the hex SHA-256 of a link token.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateLink makes a public link to the collection at path and returns its
// token (32 random bytes, base64url: 43 characters), which the log never
// holds; dav serves it at /pub/<token>.ics. The caller checks that m.Actor
// may (the owner, or an administrator).
//
// Errors: ErrNotFound (no collection); ErrConflict (a home);
// *SharingLimitError (MaxLinksPerCollection).
func (db *DB) CreateLink(ctx context.Context, m Meta, path string, freeBusyOnly bool) (token string, link *Link, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("engine: link token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	cmd := &linkCmd{m: m, path: path, hash: tokenHash(token), freeBusy: freeBusyOnly}
	if err := db.submit(ctx, cmd); err != nil {
		return "", nil, err
	}
	v, err := db.View()
	if err != nil {
		return "", nil, err
	}
	defer v.Close()
	link, err = v.Link(token)
	return token, link, err
}

// RevokeLink revokes the public link id (Link.ID, or its token) of the
// collection at path.
//
// Errors: ErrNotFound (no collection, or no such link of it).
func (db *DB) RevokeLink(ctx context.Context, m Meta, path, id string) error {
	return db.submit(ctx, &linkCmd{m: m, path: path, id: id, revoke: true})
}

// Publish makes the published link of the calendar or address book at
// path (CalendarServer's CS:publish-calendar), or returns the one it has:
// a collection has at most one. Its token is derived from the store
// secret and a random id the log holds beside the token's hash (see
// publishToken), so the server can show the URL again (CS:publish-url)
// while a reader of the log cannot compute it. Link.Token holds it.
//
// Errors: ErrNotFound (no collection); ErrConflict (a home);
// *SharingLimitError (MaxLinksPerCollection).
func (db *DB) Publish(ctx context.Context, m Meta, path string) (*Link, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("engine: publish id: %w", err)
	}
	id := hex.EncodeToString(b)
	cmd := &linkCmd{m: m, path: path, hash: tokenHash(db.publishToken(id)), publishID: id}
	if err := db.submit(ctx, cmd); err != nil {
		return nil, err
	}
	v, err := db.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	l, err := v.Published(path)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, fmt.Errorf("engine: publish %s: %w", path, ErrNotFound) // unpublished meanwhile
	}
	return l, nil
}

// Unpublish revokes the published link of the collection at path (CS:
// unpublish-calendar); a collection that has none is left as it is.
// Links made by CreateLink stay.
//
// Errors: ErrNotFound (no collection).
func (db *DB) Unpublish(ctx context.Context, m Meta, path string) error {
	return db.submit(ctx, &linkCmd{m: m, path: path, revoke: true, unpublish: true})
}

// publishToken is the token of the published link with random id id:
// HMAC-SHA256 of the id under a key derived from the store secret, in
// base64url like CreateLink's tokens.
func (db *DB) publishToken(id string) string {
	mac := hmac.New(sha256.New, db.Secret("publish-link"))
	mac.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

type linkCmd struct {
	m         Meta
	path      string
	hash      string // create
	freeBusy  bool
	publishID string // create a published link, unless the collection has one
	id        string // revoke
	revoke    bool
	unpublish bool // revoke the published link
}

// publishedHash returns the hash of the published link among hashes, ""
// when none is.
func publishedHash(r getter, hashes []string) (string, error) {
	for _, h := range hashes {
		l := &statev1.Link{}
		if err := getProto(r, keys.LinkKey(h), l); err != nil {
			return "", err
		}
		if l.PublishId != "" {
			return h, nil
		}
	}
	return "", nil
}

func (c *linkCmd) run(tx *txn) error {
	coll, err := collectionByPath(tx.rw, c.path)
	if err != nil {
		return fmt.Errorf("link to %s: %w", c.path, err)
	}
	hashes, err := getNames(tx.rw, keys.LinksKey(coll.Id))
	if err != nil {
		return err
	}
	ev := &eventv1.Event{CollectionId: coll.Id, CollectionPath: coll.Path, Owner: coll.Owner, CollectionKind: coll.Kind}
	if c.unpublish || c.publishID != "" {
		pub, err := publishedHash(tx.rw, hashes.Names)
		switch {
		case err != nil:
			return err
		case pub != "" && c.unpublish:
			ev.Op, ev.Link = eventv1.Op_OP_LINK_REVOKED, &eventv1.Link{TokenSha256: pub}
			return tx.append(c.m, ev)
		case pub != "" || c.unpublish:
			return nil // published already, or not published
		}
	}
	if c.revoke {
		i := slices.IndexFunc(hashes.Names, func(h string) bool {
			return len(c.id) >= linkIDLen && strings.HasPrefix(h, c.id) || h == tokenHash(c.id)
		})
		if i < 0 {
			return fmt.Errorf("%w: no link %q of %s", ErrNotFound, c.id, c.path)
		}
		ev.Op, ev.Link = eventv1.Op_OP_LINK_REVOKED, &eventv1.Link{TokenSha256: hashes.Names[i]}
		return tx.append(c.m, ev)
	}
	if Kind(coll.Kind) == KindHome {
		return fmt.Errorf("%w: a home has no public link", ErrConflict)
	}
	if len(hashes.Names) >= MaxLinksPerCollection {
		return &SharingLimitError{What: "public links of " + c.path, Limit: MaxLinksPerCollection}
	}
	ev.Op, ev.Link = eventv1.Op_OP_LINK_CREATED, &eventv1.Link{TokenSha256: c.hash, FreebusyOnly: c.freeBusy, PublishId: c.publishID}
	return tx.append(c.m, ev)
}

// applyLink keeps y<hash> (the link) and z<id> (the hashes of a
// collection's links).
func applyLink(rw readWriter, ev *eventv1.Event, create bool) error {
	hash := ev.Link.GetTokenSha256()
	if err := editNames(rw, keys.LinksKey(ev.CollectionId), hash, create); err != nil {
		return err
	}
	if err := rw.Set(keys.CollHistKey(ev.CollectionId, ev.Seq), nil, nil); err != nil {
		return err
	}
	if !create {
		return rw.Delete(keys.LinkKey(hash), nil)
	}
	return setProto(rw, keys.LinkKey(hash), &statev1.Link{
		CollectionId: ev.CollectionId, FreebusyOnly: ev.Link.FreebusyOnly, Seq: ev.Seq,
		Actor: ev.Actor, CreatedUnixNano: ev.TimeUnixNano, PublishId: ev.Link.PublishId,
	})
}

// dropLinks removes the public links of collection id (deleted).
func dropLinks(rw readWriter, id uint64) error {
	hashes, err := getNames(rw, keys.LinksKey(id))
	if err != nil || len(hashes.Names) == 0 {
		return err
	}
	for _, h := range hashes.Names {
		if err := rw.Delete(keys.LinkKey(h), nil); err != nil {
			return err
		}
	}
	return rw.Delete(keys.LinksKey(id), nil)
}

// Link returns the live public link whose token is token.
//
// Errors: ErrNotFound (no such link, revoked, or its collection deleted).
func (v *View) Link(token string) (*Link, error) {
	return v.linkByHash(tokenHash(token))
}

func (v *View) linkByHash(hash string) (*Link, error) {
	l := &statev1.Link{}
	if err := getProto(v.v.snap, keys.LinkKey(hash), l); err != nil {
		return nil, err
	}
	c, err := getCollection(v.v.snap, l.CollectionId)
	if err != nil {
		return nil, err
	}
	if c.Deleted {
		return nil, ErrNotFound
	}
	out := &Link{
		ID: hash[:linkIDLen], CollectionID: c.Id, Path: c.Path, FreeBusyOnly: l.FreebusyOnly,
		Actor: l.Actor, Created: unixNano(l.CreatedUnixNano), Seq: Seq(l.Seq),
	}
	if l.PublishId != "" {
		out.Token = v.db.publishToken(l.PublishId)
	}
	return out, nil
}

// Published returns the published link of the collection at path (see
// Publish), nil when it has none.
//
// Errors: ErrNotFound (no collection).
func (v *View) Published(path string) (*Link, error) {
	ls, err := v.Links(path)
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		if l.Token != "" {
			return l, nil
		}
	}
	return nil, nil
}

// Links returns the public links of the collection at path, oldest first.
//
// Errors: ErrNotFound (no collection).
func (v *View) Links(path string) ([]*Link, error) {
	c, err := collectionByPath(v.v.snap, path)
	if err != nil {
		return nil, err
	}
	hashes, err := getNames(v.v.snap, keys.LinksKey(c.Id))
	if err != nil {
		return nil, err
	}
	out := make([]*Link, 0, len(hashes.Names))
	for _, h := range hashes.Names {
		l, err := v.linkByHash(h)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b *Link) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

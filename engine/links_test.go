package engine

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestPublish publishes a calendar (CS:publish-calendar): the published
// link's token is derived from the store secret, so the server shows the
// same URL again (publishing twice keeps it, and so do a restart and a
// rebuild) while neither the log nor the projections hold the token; a
// revocation by id and Unpublish both end it, Unpublish leaves links made
// by CreateLink alone, and publishing again makes a new token.
func TestPublish(t *testing.T) {
	fs := vfs.NewMem()
	db := sharingDB(t, fs)
	const cal = "/h/alice/cal/"
	published := func(db *DB) *Link {
		t.Helper()
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		l, err := v.Published(cal)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := published(db); l != nil {
		t.Fatalf("published before Publish: %+v", l)
	}
	plain, _, err := db.CreateLink(ctx, alice, cal, false)
	must(t, err)
	l, err := db.Publish(ctx, alice, cal)
	must(t, err)
	if len(l.Token) != 43 || l.Path != cal || l.Actor != "alice" {
		t.Fatalf("published link: %+v", l)
	}
	again, err := db.Publish(ctx, alice, cal)
	must(t, err)
	if again.Token != l.Token || again.ID != l.ID {
		t.Errorf("publishing again: %+v, want %+v", again, l)
	}
	v, _ := db.View()
	ls, err := v.Links(cal)
	resolved, rerr := v.Link(l.Token)
	v.Close()
	if err != nil || len(ls) != 2 || ls[0].Token != "" || ls[1].Token != l.Token {
		t.Fatalf("links: %+v, %v (want the plain link without a token, then the published one)", ls, err)
	}
	if rerr != nil || resolved.Path != cal {
		t.Fatalf("the published token resolves to %+v, %v", resolved, rerr)
	}
	it, err := db.pdb.NewIter(nil)
	must(t, err)
	for it.First(); it.Valid(); it.Next() {
		if bytes.Contains(it.Value(), []byte(l.Token)) {
			t.Errorf("the published token is stored at %q", it.Key())
		}
	}
	it.Close()
	db = reopenStale(t, db, fs)
	if got := published(db); got == nil || got.Token != l.Token {
		t.Fatalf("after a rebuild: %+v, want token %s", got, l.Token)
	}
	must(t, db.Unpublish(ctx, alice, cal))
	if got := published(db); got != nil {
		t.Fatalf("after Unpublish: %+v", got)
	}
	v, _ = db.View()
	_, err = v.Link(l.Token)
	_, perr := v.Link(plain)
	v.Close()
	if !errors.Is(err, ErrNotFound) || perr != nil {
		t.Fatalf("after Unpublish: published token %v (want not found), plain link %v (want kept)", err, perr)
	}
	must(t, db.Unpublish(ctx, alice, cal)) // nothing published: no change
	l2, err := db.Publish(ctx, alice, cal)
	must(t, err)
	if l2.Token == l.Token {
		t.Fatal("publishing after Unpublish gave the old token back")
	}
	must(t, db.RevokeLink(ctx, alice, cal, l2.ID))
	if got := published(db); got != nil {
		t.Fatalf("after revoking it by id: %+v", got)
	}
	if _, err := db.Publish(ctx, alice, "/h/alice/"); !errors.Is(err, ErrConflict) {
		t.Errorf("publishing a home: %v", err)
	}
	must(t, db.Verify(ctx))
	db.Close()
}

package engine

import (
	"errors"
	"testing"
)

func TestMoveCollection(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	r, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := db.Collection("/alice/cal/")
	created, err := db.MoveCollection(ctx, alice, "/alice/cal/", "/alice/work/", false)
	if err != nil || !created {
		t.Fatalf("move: created=%v, %v", created, err)
	}
	if _, err := db.Collection("/alice/cal/"); !errors.Is(err, ErrNotFound) {
		t.Errorf("source still there: %v", err)
	}
	o, err := db.Object("/alice/work/", "a.ics", true)
	if err != nil || o.ETag != r.ETag {
		t.Fatalf("object after move: %+v, %v", o, err)
	}
	after, _ := db.Collection("/alice/work/")
	if after.ID != before.ID {
		t.Error("a moved collection changed its id")
	}
	// Sync tokens issued before the move stay valid at the new path.
	cs, err := db.Changes("/alice/work/", before.SyncToken, 0)
	if err != nil || len(cs.Changes) != 0 {
		t.Fatalf("changes since a pre-move token: %+v, %v", cs, err)
	}
	v, _ := db.View()
	h, err := v.CollectionHistory("/alice/work/", zeroTime, zeroTime)
	v.Close()
	if err != nil || len(h) == 0 || h[len(h)-1].Op != OpCollectionMoved {
		t.Fatalf("history of the moved collection: %v, %v", h, err)
	}

	cases := []struct {
		name     string
		from, to string
		want     func(error) bool
	}{
		{"ErrNoSource", "/alice/none/", "/alice/x/", is(ErrNotFound)},
		{"ErrInside", "/alice/work/", "/alice/work/sub/", is(ErrConflict)},
		{"ErrHome", "/alice/", "/bob/", is(ErrConflict)},
		{"ErrNoParent", "/alice/work/", "/alice/a/b/", is(ErrConflict)},
		{"ErrBadPath", "/alice/work/", "/alice/../", is(ErrInvalidName)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := db.MoveCollection(ctx, alice, tc.from, tc.to, false); !tc.want(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	t.Run("Overwrite", func(t *testing.T) {
		if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/other/", Kind: KindCalendar, Owner: "alice"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.MoveCollection(ctx, alice, "/alice/work/", "/alice/other/", false); !errors.Is(err, ErrExists) {
			t.Fatalf("move over an existing collection without overwrite: %v", err)
		}
		created, err := db.MoveCollection(ctx, alice, "/alice/work/", "/alice/other/", true)
		if err != nil || created {
			t.Fatalf("overwrite: created=%v, %v", created, err)
		}
		if _, err := db.Object("/alice/other/", "a.ics", false); err != nil {
			t.Fatal(err)
		}
	})
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCopyCollection(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/p/", Kind: KindPlain, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/p/q/", Kind: KindPlain, Owner: "alice", Props: Props{DisplayName: "Q"}}); err != nil {
		t.Fatal(err)
	}
	r, err := db.PutObject(ctx, alice, "/alice/p/q/", "f.txt", []byte("hello"), PutOptions{ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	err = db.UpdateObjectProps(ctx, alice, "/alice/p/q/", "f.txt", func(d map[string]string) error {
		d["{urn:x}k"] = `<k xmlns="urn:x">v</k>`
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CopyCollection(ctx, alice, "/alice/p/", "/alice/c/", false); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/alice/p/q/", "/alice/c/q/"} {
		o, err := db.Object(p, "f.txt", true)
		if err != nil || string(o.Body) != "hello" || o.Dead["{urn:x}k"] == "" || o.ContentType != "text/plain" {
			t.Fatalf("%s f.txt = %+v, %v", p, o, err)
		}
		if p == "/alice/c/q/" && o.ETag == r.ETag {
			t.Error("a copy kept the source's ETag")
		}
	}
	q, _ := db.Collection("/alice/c/q/")
	if q.Props.DisplayName != "Q" {
		t.Errorf("copied props = %+v", q.Props)
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestObjectProps(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	r, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := db.Collection("/alice/cal/")
	set := func(d map[string]string) error { d["{urn:x}k"] = "<k/>"; return nil }
	if err := db.UpdateObjectProps(ctx, alice, "/alice/cal/", "a.ics", set); err != nil {
		t.Fatal(err)
	}
	o, _ := db.Object("/alice/cal/", "a.ics", false)
	if o.ETag != r.ETag || o.Dead["{urn:x}k"] != "<k/>" {
		t.Fatalf("after PROPPATCH: %+v", o)
	}
	cs, _ := db.Changes("/alice/cal/", c.SyncToken, 0)
	if describe(cs.Changes) != "a.ics" {
		t.Errorf("sync after a property change = %q", describe(cs.Changes))
	}
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if o, _ := db.Object("/alice/cal/", "a.ics", false); o.Dead["{urn:x}k"] != "<k/>" {
		t.Error("a PUT dropped the dead properties")
	}
	boom := errors.New("boom")
	if err := db.UpdateObjectProps(ctx, alice, "/alice/cal/", "a.ics", func(map[string]string) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if err := db.UpdateObjectProps(ctx, alice, "/alice/cal/", "none.ics", set); !errors.Is(err, ErrNotFound) {
		t.Fatalf("props of a missing object: %v", err)
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestViewRemembersPathPerSnapshot: a View's lookups remember the id of
// the collection at a path (view.collectionByPath), and what they
// remember belongs to that snapshot: a collection deleted and made again
// at the same path (a new id) is the new one in a View opened after, by
// Collection and by Access, while a View opened before still sees the old
// one, whichever path its lookups resolved last.
func TestViewRemembersPathPerSnapshot(t *testing.T) {
	db := MustOpen(t)
	const home, cal = "/dav/home/alice/", "/dav/home/alice/cal/"
	for _, p := range []string{home, cal} {
		kind := KindCalendar
		if p == home {
			kind = KindHome
		}
		if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: p, Kind: kind, Owner: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	before, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	old, err := before.Collection(cal)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteCollection(ctx, alice, cal); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: cal, Kind: KindCalendar, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	after, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	for range 2 { // the first lookups read the index, the second remember
		c, err := after.Collection(cal)
		if err != nil {
			t.Fatal(err)
		}
		if c.ID == old.ID {
			t.Fatalf("after the collection was made again: id %d, the deleted one's", c.ID)
		}
		r, err := after.Access("alice", cal+"x.ics")
		if err != nil || r.Collection == nil || r.Collection.ID != c.ID {
			t.Fatalf("Access after: %+v, %v; want collection %d", r, err, c.ID)
		}
		if h, err := before.Collection(home); err != nil || h.Path != home {
			t.Fatalf("home before: %+v, %v", h, err)
		}
		if c, err := before.Collection(cal); err != nil || c.ID != old.ID {
			t.Fatalf("before: %+v, %v; want id %d", c, err, old.ID)
		}
	}
}

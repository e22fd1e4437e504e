package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestChanges(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	put := func(name string) {
		t.Helper()
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", name, event(name), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		put(fmt.Sprintf("e%d.ics", i))
	}
	full, err := db.Changes("/alice/cal/", "", 0)
	if err != nil || len(full.Changes) != 5 {
		t.Fatalf("full sync: %+v, %v", full, err)
	}

	t.Run("NoChange", func(t *testing.T) {
		cs, err := db.Changes("/alice/cal/", full.Token, 0)
		if err != nil || len(cs.Changes) != 0 || cs.Token != full.Token {
			t.Fatalf("no-change sync: %+v, %v", cs, err)
		}
	})
	t.Run("EachNameOnce", func(t *testing.T) {
		put("e1.ics")
		put("e1.ics")
		if err := db.DeleteObject(ctx, alice, "/alice/cal/", "e2.ics", ""); err != nil {
			t.Fatal(err)
		}
		put("new.ics")
		cs, err := db.Changes("/alice/cal/", full.Token, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := describe(cs.Changes)
		if want := "e1.ics e2.ics(deleted) new.ics"; got != want {
			t.Fatalf("changes = %q, want %q", got, want)
		}
	})
	t.Run("DeletedThenBack", func(t *testing.T) {
		c, _ := db.Collection("/alice/cal/")
		put("e2.ics")
		cs, _ := db.Changes("/alice/cal/", c.SyncToken, 0)
		if got := describe(cs.Changes); got != "e2.ics" {
			t.Fatalf("changes = %q", got)
		}
	})
	t.Run("Limit", func(t *testing.T) {
		var names []string
		token := full.Token
		for {
			cs, err := db.Changes("/alice/cal/", token, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs.Changes {
				names = append(names, c.Name)
			}
			token = cs.Token
			if !cs.Truncated {
				break
			}
		}
		if got := strings.Join(names, " "); got != "e1.ics new.ics e2.ics" {
			t.Fatalf("paged changes = %q", got)
		}
	})
	t.Run("FullSkipsTombstones", func(t *testing.T) {
		if err := db.DeleteObject(ctx, alice, "/alice/cal/", "e0.ics", ""); err != nil {
			t.Fatal(err)
		}
		cs, _ := db.Changes("/alice/cal/", "", 0)
		for _, c := range cs.Changes {
			if c.Deleted || c.Name == "e0.ics" {
				t.Fatalf("full sync lists a deletion: %+v", c)
			}
		}
	})
	t.Run("ErrInvalidToken", func(t *testing.T) {
		other := MustOpen(t)
		MustCalendar(t, other)
		foreign, _ := other.Collection("/alice/cal/")
		c, _ := db.Collection("/alice/cal/")
		future := db.syncToken(c.ID, c.LastSeq+10)
		clearFuture := SyncTokenPrefix + db.StoreID() + "/" + fmt.Sprint(c.ID) + "/" + fmt.Sprint(uint64(c.LastSeq)+10)
		forged := SyncTokenPrefix + db.StoreID() + "/" + strings.Repeat("0", 32)
		for _, tok := range []string{"garbage", SyncTokenPrefix + "x/1/1", foreign.SyncToken, future, clearFuture, forged} {
			if _, err := db.Changes("/alice/cal/", tok, 0); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("token %q: err = %v", tok, err)
			}
		}
	})
	t.Run("ErrOtherCollection", func(t *testing.T) {
		if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/two/", Kind: KindCalendar, Owner: "alice"}); err != nil {
			t.Fatal(err)
		}
		two, _ := db.Collection("/alice/two/")
		if _, err := db.Changes("/alice/cal/", two.SyncToken, 0); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestCTagChangesIffCollectionChanges checks invariant 4: a write to one
// collection moves its CTag and no other's.
func TestCTagChangesIffCollectionChanges(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/other/", Kind: KindCalendar, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	a1, _ := db.Collection("/alice/cal/")
	b1, _ := db.Collection("/alice/other/")
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "x.ics", event("x"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	a2, _ := db.Collection("/alice/cal/")
	b2, _ := db.Collection("/alice/other/")
	if a2.CTag == a1.CTag {
		t.Error("CTag of the changed collection did not move")
	}
	if b2.CTag != b1.CTag {
		t.Error("CTag of an untouched collection moved")
	}
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "y.ics", event("x"), PutOptions{}); err == nil {
		t.Fatal("a put with a conflicting UID succeeded")
	}
	if a3, _ := db.Collection("/alice/cal/"); a3.CTag != a2.CTag {
		t.Error("a rejected write moved the CTag")
	}
}

func describe(cs []Change) string {
	var parts []string
	for _, c := range cs {
		s := c.Name
		if c.Deleted {
			s += "(deleted)"
		} else if c.ETag == "" {
			s += "(no etag)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// TestChangesLimitKeepsMovePairs: a move inside a collection changes two
// names in one event; paging with a limit must not split them, or the
// continuation token would skip one.
func TestChangesLimitKeepsMovePairs(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	for _, n := range []string{"a.ics", "b.ics"} {
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", n, event(n), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := db.Collection("/alice/cal/")
	if _, err := db.MoveObject(ctx, alice, MoveRequest{FromPath: "/alice/cal/", FromName: "a.ics", ToPath: "/alice/cal/", ToName: "z.ics"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "c.ics", event("c"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var pages []string
	token := c.SyncToken
	for {
		cs, err := db.Changes("/alice/cal/", token, 1)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, describe(cs.Changes))
		token = cs.Token
		if !cs.Truncated {
			break
		}
	}
	if got, want := strings.Join(pages, " | "), "a.ics(deleted) z.ics | c.ics"; got != want {
		t.Fatalf("pages = %q, want %q", got, want)
	}
}

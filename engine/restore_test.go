package engine

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

var (
	bob    = Meta{Actor: "bob", UserAgent: "DAVx5/4.4", RequestID: "r2"}
	oper   = Meta{Actor: "operator:root", UserAgent: "almanac-cli"}
	mobile = Meta{Actor: "alice", UserAgent: "iOS/17.0", RequestID: "r3"}
)

// snapshot returns name -> body of the live objects of path.
func snapshot(tb testing.TB, db *DB, path string) map[string]string {
	tb.Helper()
	v, err := db.View()
	if err != nil {
		tb.Fatal(err)
	}
	defer v.Close()
	out := map[string]string{}
	for o, err := range v.Objects(path, ListOptions{Bodies: true}) {
		if err != nil {
			tb.Fatal(err)
		}
		out[o.Name] = string(o.Body)
	}
	return out
}

func sameObjects(tb testing.TB, got, want map[string]string) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d objects, want %d", len(got), len(want))
	}
	for n, b := range want {
		if got[n] != b {
			tb.Fatalf("object %s: got %q, want %q", n, got[n], b)
		}
	}
}

func TestHistoryOfObjectThroughMoveAndDelete(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/work/", Kind: KindCalendar, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	r1, _ := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{})
	r2, err := db.PutObject(ctx, bob, "/alice/cal/", "a.ics", bytes.Replace(event("a"), []byte("Meeting"), []byte("Lunch"), 1), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r3, err := db.MoveObject(ctx, mobile, MoveRequest{FromPath: "/alice/cal/", FromName: "a.ics", ToPath: "/alice/work/", ToName: "a.ics"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteObject(ctx, bob, "/alice/work/", "a.ics", ""); err != nil {
		t.Fatal(err)
	}
	v, _ := db.View()
	defer v.Close()
	src, err := v.History("/alice/cal/", "a.ics")
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		op         Op
		actor, ua  string
		prev, etag string
	}
	want := []step{
		{OpObjectPut, "alice", "test/1.0", "", r1.ETag},
		{OpObjectPut, "bob", "DAVx5/4.4", r1.ETag, r2.ETag},
		{OpObjectMoved, "alice", "iOS/17.0", r2.ETag, r3.ETag},
	}
	if len(src) != len(want) {
		t.Fatalf("source history has %d events, want %d", len(src), len(want))
	}
	for i, e := range src {
		got := step{e.Op, e.Actor, e.UserAgent, e.PreviousETag, e.ETag}
		if got != want[i] {
			t.Errorf("step %d: got %+v, want %+v", i, got, want[i])
		}
	}
	dst, err := v.History("/alice/work/", "a.ics")
	if err != nil {
		t.Fatal(err)
	}
	if len(dst) != 2 || dst[0].Op != OpObjectMoved || dst[1].Op != OpObjectDeleted || dst[1].Actor != "bob" || dst[1].PreviousETag != r3.ETag {
		t.Fatalf("destination history: %+v", dst)
	}
	// The version of the modification is still readable.
	ver, err := v.Version(r2.Seq)
	if err != nil || !bytes.Contains(ver.Body, []byte("Lunch")) {
		t.Fatalf("version %d: %v %v", r2.Seq, ver, err)
	}
	home, err := v.HistoryUnder("/alice/", noBound, noBound)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(home); n != 7 { // 3 collections + put, put, move, delete
		t.Fatalf("home history has %d events, want 7", n)
	}
}

func TestRestoreCollectionAfterDisaster(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	const n = 1000
	for i := 0; i < n; i++ {
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", fmt.Sprintf("e%04d.ics", i), event(fmt.Sprintf("u%04d", i)), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, db, "/alice/cal/")
	at := AsOf{Seq: db.Head()}
	tok, _ := db.Changes("/alice/cal/", "", 0)
	for i := 0; i < 500; i++ {
		if err := db.DeleteObject(ctx, bob, "/alice/cal/", fmt.Sprintf("e%04d.ics", 2*i), ""); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		body := bytes.Replace(event(fmt.Sprintf("u%04d", 2*i+1)), []byte("Meeting"), []byte("Broken"), 1)
		if _, err := db.PutObject(ctx, bob, "/alice/cal/", fmt.Sprintf("e%04d.ics", 2*i+1), body, PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A new object created after the moment goes away again.
	if _, err := db.PutObject(ctx, bob, "/alice/cal/", "new.ics", event("new"), PutOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("DryRun", func(t *testing.T) {
		res, err := db.Restore(ctx, oper, RestoreRequest{Path: "/alice/cal/", At: at, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(res.Actions), 500+100+1; got != want {
			t.Fatalf("dry run lists %d actions, want %d", got, want)
		}
		if len(snapshot(t, db, "/alice/cal/")) != 501 {
			t.Fatal("dry run changed the collection")
		}
	})
	t.Run("OK", func(t *testing.T) {
		res, err := db.Restore(ctx, oper, RestoreRequest{Path: "/alice/cal/", At: at})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Actions) != 601 {
			t.Fatalf("restore did %d actions, want 601", len(res.Actions))
		}
		sameObjects(t, snapshot(t, db, "/alice/cal/"), before)
		cs, err := db.Changes("/alice/cal/", tok.Token, 0)
		if err != nil {
			t.Fatal(err)
		}
		// The client sees the 600 restored names changed and new.ics gone.
		if got := len(cs.Changes); got != 601 {
			t.Fatalf("sync after restore reports %d changes, want 601", got)
		}
		v, _ := db.View()
		defer v.Close()
		e, _ := v.Event(res.Actions[0].Seq)
		if e.Actor != "operator:root" || e.Reason != "restore as of "+at.String() {
			t.Fatalf("restore event meta: %q %q", e.Actor, e.Reason)
		}
		if err := db.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Idempotent", func(t *testing.T) {
		res, err := db.Restore(ctx, oper, RestoreRequest{Path: "/alice/cal/", At: at})
		if err != nil || len(res.Actions) != 0 {
			t.Fatalf("second restore: %d actions, %v", len(res.Actions), err)
		}
	})
}

func TestRestoreDeletedHomeAndUndelete(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	err := db.UpdateProps(ctx, alice, "/alice/cal/", func(p *Props) error { p.DisplayName = "Work"; p.Color = "#FF0000FF"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{})
	db.PutObject(ctx, alice, "/alice/cal/", "b.ics", event("b"), PutOptions{})
	before := snapshot(t, db, "/alice/cal/")
	if err := db.DeleteCollection(ctx, bob, "/alice/"); err != nil {
		t.Fatal(err)
	}
	t.Run("ErrConflictWithoutParent", func(t *testing.T) {
		_, err := db.Undelete(ctx, oper, "/alice/cal/", "")
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("undelete of a calendar in a deleted home: %v", err)
		}
	})
	t.Run("Home", func(t *testing.T) {
		if _, err := db.Undelete(ctx, oper, "/alice/", ""); err != nil {
			t.Fatal(err)
		}
		c, err := db.Collection("/alice/cal/")
		if err != nil || c.Props.DisplayName != "Work" || c.Props.Color != "#FF0000FF" || c.Kind != KindCalendar {
			t.Fatalf("recreated calendar: %+v %v", c, err)
		}
		sameObjects(t, snapshot(t, db, "/alice/cal/"), before)
	})
	t.Run("Object", func(t *testing.T) {
		if err := db.DeleteObject(ctx, bob, "/alice/cal/", "a.ics", ""); err != nil {
			t.Fatal(err)
		}
		res, err := db.Undelete(ctx, oper, "/alice/cal/", "a.ics")
		if err != nil || len(res.Actions) != 1 || res.Actions[0].Op != OpObjectPut {
			t.Fatalf("undelete: %+v %v", res, err)
		}
		sameObjects(t, snapshot(t, db, "/alice/cal/"), before)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := db.Undelete(ctx, oper, "/alice/cal/", "never.ics"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("undelete of a name never deleted: %v", err)
		}
	})
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStateAsOfTime(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{})
	v, _ := db.View()
	e, _ := v.Event(v.Head())
	v.Close()
	db.PutObject(ctx, alice, "/alice/cal/", "b.ics", event("b"), PutOptions{})
	v, _ = db.View()
	defer v.Close()
	st, err := v.StateAsOf("/alice/", AsOf{Time: e.Time})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Collections) != 2 || len(st.Collections[1].Objects) != 1 || st.Collections[1].Objects[0].Name != "a.ics" {
		t.Fatalf("state as of %s: %+v", e.Time, st)
	}
	if _, err := v.ObjectAsOf("/alice/cal/", "b.ics", AsOf{Time: e.Time}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("b.ics before it existed: %v", err)
	}
	if _, err := v.StateAsOf("/alice/", AsOf{Seq: v.Head() + 1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("as of the future: %v", err)
	}
	for _, s := range []string{"12", "2026-01-01T00:00:05Z"} {
		if _, err := ParseAsOf(s); err != nil {
			t.Errorf("ParseAsOf(%q): %v", s, err)
		}
	}
	if _, err := ParseAsOf("yesterday"); err == nil {
		t.Error("ParseAsOf accepted garbage")
	}
}

var noBound time.Time

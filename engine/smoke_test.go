package engine

import "testing"

func TestSmoke(t *testing.T) {
	db := MustOpen(t)
	MustCalendar(t, db)
	r, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{IfNoneMatch: true})
	if err != nil || !r.Created {
		t.Fatalf("put: %+v %v", r, err)
	}
	o, err := db.Object("/alice/cal/", "a.ics", true)
	if err != nil || string(o.Body) != string(event("a")) || o.ETag != r.ETag {
		t.Fatalf("get: %+v %v", o, err)
	}
	cs, err := db.Changes("/alice/cal/", "", 0)
	if err != nil || len(cs.Changes) != 1 {
		t.Fatalf("changes: %+v %v", cs, err)
	}
	if err := db.DeleteObject(ctx, alice, "/alice/cal/", "a.ics", r.ETag); err != nil {
		t.Fatal(err)
	}
	cs2, err := db.Changes("/alice/cal/", cs.Token, 0)
	if err != nil || len(cs2.Changes) != 1 || !cs2.Changes[0].Deleted {
		t.Fatalf("changes after delete: %+v %v", cs2, err)
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	v, _ := db.View()
	defer v.Close()
	h, err := v.History("/alice/cal/", "a.ics")
	if err != nil || len(h) != 2 {
		t.Fatalf("history: %d %v", len(h), err)
	}
}

package engine

import "testing"

func TestCursor(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	if got, err := db.Cursor("nats"); err != nil || got != 0 {
		t.Fatalf("unset cursor = %d, %v", got, err)
	}
	if err := db.SetCursor("nats", 42); err != nil {
		t.Fatal(err)
	}
	MustCalendar(t, db)
	if err := db.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Cursor("nats"); err != nil || got != 42 {
		t.Fatalf("cursor after rebuild = %d, %v", got, err)
	}
	if err := db.SetCursor("webhook:w1", 7); err != nil {
		t.Fatal(err)
	}
	all, err := db.Cursors()
	if err != nil || len(all) != 2 || all["nats"] != 42 || all["webhook:w1"] != 7 {
		t.Errorf("Cursors = %v, %v; want nats 42 and webhook:w1 7", all, err)
	}
	c, _ := db.Collection("/alice/cal/")
	if got := db.SyncToken(c.ID, c.LastSeq); got != c.SyncToken {
		t.Errorf("SyncToken = %q, want the collection's %q", got, c.SyncToken)
	}
}

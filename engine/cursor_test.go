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
	c, _ := db.Collection("/alice/cal/")
	if got := db.SyncToken(c.ID, c.LastSeq); got != c.SyncToken {
		t.Errorf("SyncToken = %q, want the collection's %q", got, c.SyncToken)
	}
}

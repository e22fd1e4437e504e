package engine

import (
	"errors"
	"slices"
	"testing"
)

// TestRestoreRescheduleJob: a restore with Reschedule records its job in
// its own commit, just before its changes: the objects it puts back or
// deletes, then those of a calendar it deletes as a whole (with the
// calendar's owner). An item ends once (ErrRescheduleDone the second
// time), the pending ones are listed by job, a restore without
// Reschedule records none, and the projection rebuilds identically.
func TestRestoreRescheduleJob(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	for _, n := range []string{"a", "b"} {
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", n+".ics", event(n), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	at := db.Head()
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/new/", Kind: KindCalendar, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct{ path, name string }{{"/alice/new/", "x.ics"}, {"/alice/cal/", "c.ics"}} {
		if _, err := db.PutObject(ctx, alice, w.path, w.name, event(w.name), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteObject(ctx, alice, "/alice/cal/", "a.ics", ""); err != nil {
		t.Fatal(err)
	}
	plain, err := db.Restore(ctx, alice, RestoreRequest{Path: "/alice/", At: AsOf{Seq: db.Head()}})
	if err != nil || plain.Job != 0 {
		t.Fatalf("a restore without reschedule: job %d, %v", plain.Job, err)
	}
	res, err := db.Restore(ctx, alice, RestoreRequest{Path: "/alice/", At: AsOf{Seq: at}, Reschedule: true})
	if err != nil {
		t.Fatal(err)
	}
	first := res.Actions[0].Seq
	for _, a := range res.Actions {
		first = min(first, a.Seq)
	}
	if res.Job == 0 || res.Job != first-1 {
		t.Fatalf("job at seq %d, the restore's first change at %d", res.Job, first)
	}
	items, err := db.PendingReschedules(0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.Path+it.Name+"@"+it.Owner)
	}
	want := []string{"/alice/cal/a.ics@", "/alice/cal/c.ics@", "/alice/new/x.ics@alice"}
	slices.Sort(got[:2])
	if !slices.Equal(got, want) {
		t.Fatalf("pending: %q, want %q", got, want)
	}
	if err := db.MarkRescheduled(ctx, alice, items[1]); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkRescheduled(ctx, alice, items[1]); !errors.Is(err, ErrRescheduleDone) {
		t.Fatalf("the same item ended twice: %v", err)
	}
	left, err := db.PendingReschedules(res.Job)
	if err != nil || len(left) != 2 || left[0] != items[0] || left[1] != items[2] {
		t.Fatalf("pending after one item: %+v, %v", left, err)
	}
	if left, err := db.PendingReschedules(res.Job + 1); err != nil || len(left) != 0 {
		t.Fatalf("pending of another job: %+v, %v", left, err)
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

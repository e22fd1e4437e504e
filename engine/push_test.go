package engine

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func pushSub(resource string) PushRegistration {
	return PushRegistration{PushResource: resource, PublicKey: make([]byte, 65), AuthSecret: make([]byte, 16), ContentUpdate: true}
}

func pushIDs(tb testing.TB, db *DB, id uint64) []string {
	tb.Helper()
	v, err := db.View()
	if err != nil {
		tb.Fatal(err)
	}
	defer v.Close()
	regs, err := v.PushRegistrations(id)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, r := range regs {
		out = append(out, r.ID)
	}
	return out
}

// TestPushRegistrations: a registration is an event with a projection by
// id and by collection; the same push resource of the same user renews
// (same id, created kept), another user's is a second registration;
// expiry is clamped; registrations move no CTag, survive a rebuild, follow
// a collection move and go with a deleted collection.
func TestPushRegistrations(t *testing.T) {
	fs := vfs.NewMem()
	db := sharingDB(t, fs)
	v, _ := db.View()
	c, err := v.Collection("/h/alice/cal/")
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	r1, created, err := db.RegisterPush(ctx, alice, "/h/alice/cal/", pushSub("https://push.example/a"), time.Time{})
	if err != nil || !created {
		t.Fatalf("register: %v, created %v", err, created)
	}
	if len(r1.ID) != 22 || r1.User != "alice" || r1.CollectionID != c.ID || !r1.ContentUpdate {
		t.Fatalf("registration: %+v", r1)
	}
	if got := r1.Expires.Sub(r1.Created); got != PushLifetime {
		t.Errorf("default lifetime %v, want %v", got, PushLifetime)
	}
	// Renewal: same id, the asked-for expiry (within bounds), created kept.
	want := r1.Created.Add(72 * time.Hour)
	r2, created, err := db.RegisterPush(ctx, alice, "/h/alice/cal/", pushSub("https://push.example/a"), want)
	if err != nil || created || r2.ID != r1.ID || !r2.Created.Equal(r1.Created) || !r2.Expires.Equal(want) {
		t.Fatalf("renewal: %+v created=%v err=%v", r2, created, err)
	}
	// Too short or in the past: PushMinLifetime.
	r3, _, err := db.RegisterPush(ctx, alice, "/h/alice/cal/", pushSub("https://push.example/a"), time.Unix(0, 0))
	if err != nil || r3.Expires.Sub(r3.Created) > PushMinLifetime+time.Minute {
		t.Fatalf("short expiry: %+v %v", r3, err)
	}
	bob := Meta{Actor: "bob"}
	rb, created, err := db.RegisterPush(ctx, bob, "/h/alice/cal/", pushSub("https://push.example/a"), time.Time{})
	if err != nil || !created || rb.ID == r1.ID {
		t.Fatalf("bob's registration: %+v %v", rb, err)
	}
	if got := pushIDs(t, db, c.ID); !slices.Equal(got, []string{r1.ID, rb.ID}) {
		t.Errorf("registrations of the collection: %v", got)
	}
	v, _ = db.View()
	after, _ := v.Collection("/h/alice/cal/")
	v.Close()
	if after.CTag != c.CTag || after.SyncToken != c.SyncToken {
		t.Errorf("a registration moved the CTag: %s -> %s", c.CTag, after.CTag)
	}
	// Only its user removes it; others get ErrNotFound.
	if err := db.UnregisterPush(ctx, bob, r1.ID, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bob removes alice's: %v", err)
	}
	if err := db.UnregisterPush(ctx, bob, rb.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := db.UnregisterPush(ctx, bob, rb.ID, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second removal: %v", err)
	}
	if _, err := db.MoveCollection(ctx, alice, "/h/alice/cal/", "/h/alice/moved/", false); err != nil {
		t.Fatal(err)
	}
	db = reopenStale(t, db, fs)
	defer db.Close()
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pushIDs(t, db, c.ID); !slices.Equal(got, []string{r1.ID}) {
		t.Errorf("after move and rebuild: %v", got)
	}
	v, _ = db.View()
	mine, err := v.UserPushRegistrations("alice")
	v.Close()
	if err != nil || len(mine) != 1 || mine[0].PushResource != "https://push.example/a" || !mine[0].Expires.Equal(r3.Expires) {
		t.Fatalf("alice's after rebuild: %+v %v", mine, err)
	}
	if err := db.DeleteCollection(ctx, alice, "/h/alice/moved/"); err != nil {
		t.Fatal(err)
	}
	v, _ = db.View()
	all, err := v.AllPushRegistrations()
	mine, _ = v.UserPushRegistrations("alice")
	v.Close()
	if err != nil || len(all) != 0 || len(mine) != 0 {
		t.Errorf("after the collection's deletion: %d left, alice %d, %v", len(all), len(mine), err)
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPushLimits: MaxPushPerCollection refuses the next new registration
// with a *PushLimitError; a renewal still passes.
func TestPushLimits(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	for i := range MaxPushPerCollection {
		if _, _, err := db.RegisterPush(ctx, alice, "/h/alice/cal/", pushSub("https://push.example/"+string(rune('a'+i%26))+string(rune('a'+i/26))), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	var le *PushLimitError
	if _, _, err := db.RegisterPush(ctx, alice, "/h/alice/cal/", pushSub("https://push.example/new"), time.Time{}); !errors.As(err, &le) || le.Limit != MaxPushPerCollection {
		t.Errorf("over the limit: %v", err)
	}
	if _, created, err := db.RegisterPush(ctx, alice, "/h/alice/cal/", pushSub("https://push.example/aa"), time.Time{}); err != nil || created {
		t.Errorf("renewal at the limit: %v %v", created, err)
	}
	if _, _, err := db.RegisterPush(ctx, alice, "/h/alice/nope/", pushSub("https://push.example/x"), time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("no collection: %v", err)
	}
}

// TestPushEventParts: Push-Dont-Notify is recorded on the write's event
// (bounded by MaxDontNotify), never on other events; a key rotation is
// recorded once per key; topics are stable and distinct.
func TestPushEventParts(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	m := alice
	m.DontNotify = make([]string, MaxDontNotify+5)
	for i := range m.DontNotify {
		m.DontNotify[i] = "r" + string(rune('a'+i))
	}
	res, err := db.PutObject(ctx, m, "/h/alice/cal/", "a.ics", event("a"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RotatePushKey(ctx, Meta{Actor: "almanac"}, "k0"); err != nil {
		t.Fatal(err)
	}
	sub := pushSub("https://push.example/k")
	sub.VAPIDKey = "k0" // the first registration records the key in use
	if _, _, err := db.RegisterPush(ctx, alice, "/h/alice/cal/", sub, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k0", "k1", "k1", "k2"} {
		if err := db.RotatePushKey(ctx, Meta{Actor: "almanac"}, k); err != nil {
			t.Fatal(err)
		}
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ev, err := v.Event(res.Seq)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Push == nil || !slices.Equal(ev.Push.DontNotify, m.DontNotify[:MaxDontNotify]) {
		t.Errorf("dont-notify of the put: %+v", ev.Push)
	}
	var rotations []string
	for e, err := range v.Log(1) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Op == OpPushKeyRotated {
			rotations = append(rotations, e.Push.VAPIDPublicKey)
		} else if e.Push != nil && e.Seq != res.Seq && e.Op != OpPushRegistered {
			t.Errorf("push part on %v: %+v", e.Op, e.Push)
		}
	}
	if !slices.Equal(rotations, []string{"k1", "k2"}) {
		t.Errorf("rotations %v", rotations)
	}
	if k, err := v.PushKey(); k != "k2" || err != nil {
		t.Errorf("key %q %v", k, err)
	}
	a, b := db.PushTopic(1), db.PushTopic(2)
	if a == b || len(a) != 22 || db.PushTopic(1) != a {
		t.Errorf("topics %q %q", a, b)
	}
}

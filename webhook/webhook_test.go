package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
)

// checkOnceInOrder fails unless every seq of want was accepted exactly
// once, in increasing order, each under its own webhook-id.
func checkOnceInOrder(t *testing.T, got []uint64, ids []string, want []engine.Seq) {
	t.Helper()
	var w []uint64
	for _, s := range want {
		w = append(w, uint64(s))
	}
	if !slices.Equal(got, w) {
		t.Fatalf("accepted seqs %v, want %v", got, w)
	}
	for i, id := range ids {
		if id != strconv.FormatUint(got[i], 10) {
			t.Fatalf("change %d came with webhook-id %q", got[i], id)
		}
	}
}

// TestDeliverRecovers: a receiver that fails (503) its first 20 requests
// then recovers gets every change once, in log order, each signed (its own
// verification accepted every request).
func TestDeliverRecovers(t *testing.T) {
	db := mustOpenDB(t, t.TempDir())
	r := newReceiver(t)
	r.answer = func(n int) int {
		if n <= 20 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	mustWebhook(t, db, r, engine.Webhook{Kinds: []engine.Kind{engine.KindCalendar}, Ops: []engine.Op{engine.OpObjectPut}})
	start(t, Options{DB: db})
	var want []engine.Seq
	for i := range 40 {
		want = append(want, mustPut(t, db, []string{"alice", "bob"}[i%2], fmt.Sprintf("e%d.ics", i)))
	}
	waitFor(t, "40 changes", func() bool { s, _, _, _ := r.snapshot(); return len(s) >= 40 })
	got, ids, bad, requests := r.snapshot()
	if bad != 0 || requests < 60 {
		t.Fatalf("%d bad signatures, %d requests (want 0, at least 60)", bad, requests)
	}
	checkOnceInOrder(t, got, ids, want)
}

// TestPauseResume: a webhook failing for MaxOutage is paused (an event
// with the reason, the metric), sends nothing more, and once resumed
// continues from its cursor: the change it failed on first.
func TestPauseResume(t *testing.T) {
	db := mustOpenDB(t, t.TempDir())
	r := newReceiver(t)
	down := true
	r.answer = func(int) int {
		if down {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}
	w := mustWebhook(t, db, r, engine.Webhook{Principal: "alice"})
	first := mustPut(t, db, "alice", "a0.ics")
	d, _ := start(t, Options{DB: db, MaxOutage: 50 * time.Millisecond})
	paused := func() *engine.Webhook {
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		got, err := v.Webhook(w.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	waitFor(t, "the pause", func() bool { return paused().Paused })
	if p := paused(); !strings.Contains(p.Reason, "500") || !strings.Contains(p.Reason, "change "+strconv.FormatUint(uint64(first), 10)) {
		t.Errorf("pause reason %q: want the status and the change", p.Reason)
	}
	waitFor(t, "the loop to stop", func() bool { return !d.Status(w.ID).Running })
	if cur, _ := db.Cursor(engine.WebhookCursor(w.ID)); cur >= first {
		t.Fatalf("cursor %d passed the undelivered change %d", cur, first)
	}
	r.mu.Lock()
	down, before := false, r.requests
	r.mu.Unlock()
	second := mustPut(t, db, "alice", "a1.ics")
	mustPut(t, db, "bob", "b1.ics")
	// Nothing is sent while paused: the next thing the receiver sees is
	// the resumed loop's first request.
	if err := db.SetWebhookPaused(bg, engine.Meta{Actor: "alice"}, w.ID, false, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both changes", func() bool { s, _, _, _ := r.snapshot(); return len(s) >= 2 })
	got, ids, bad, requests := r.snapshot()
	if bad != 0 || requests != before+2 {
		t.Errorf("%d bad signatures; %d requests after the resume, want 2", bad, requests-before)
	}
	checkOnceInOrder(t, got, ids, []engine.Seq{first, second})
}

// TestAuthorization: bob's webhook gets his own changes and those of
// alice's calendar only while it is shared with him; carol's never. The
// filters of the webhook (ops) apply on top.
func TestAuthorization(t *testing.T) {
	db := mustOpenDB(t, t.TempDir())
	r := newReceiver(t)
	mustWebhook(t, db, r, engine.Webhook{Owner: "bob", Ops: []engine.Op{engine.OpObjectPut, engine.OpShareGranted}})
	start(t, Options{DB: db, AllowPrivate: true})
	alice := engine.Meta{Actor: "alice"}
	mustPut(t, db, "alice", "a0.ics")
	mustPut(t, db, "carol", "c0.ics")
	if err := db.Grant(bg, alice, home("alice")+"calendar/", "bob", engine.AccessRead, engine.GrantOptions{AutoAccept: true}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "alice", "a1.ics")
	mustPut(t, db, "bob", "b1.ics")
	// Wait for b1 so that the revocation lands after the loop has read
	// a1: what it read before is sent, nothing after.
	waitFor(t, "b1", func() bool { return slices.Contains(r.objects(), "bob/b1.ics") })
	if err := db.Revoke(bg, alice, home("alice")+"calendar/", "bob"); err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "alice", "a2.ics")
	mustPut(t, db, "carol", "c2.ics")
	mustPut(t, db, "bob", "b2.ics")
	waitFor(t, "b2", func() bool { return slices.Contains(r.objects(), "bob/b2.ics") })
	if got, want := r.objects(), []string{"alice/a1.ics", "bob/b1.ics", "bob/b2.ics"}; !slices.Equal(got, want) {
		t.Errorf("bob's webhook got %q, want %q", got, want)
	}
	r.mu.Lock()
	grants := 0
	for _, c := range r.accepted {
		if c.Grantee == "bob" {
			grants++
		}
	}
	r.mu.Unlock()
	if grants != 1 {
		t.Errorf("%d share-granted changes naming bob, want 1", grants)
	}
}

// TestRestartLosesNothing: stopping the deliverer and the engine in the
// middle of a backlog and starting both again delivers every change (some
// twice at most, under the same webhook-id), first deliveries in order.
func TestRestartLosesNothing(t *testing.T) {
	dir := t.TempDir()
	db := mustOpenDB(t, dir)
	r := newReceiver(t)
	w := mustWebhook(t, db, r, engine.Webhook{Ops: []engine.Op{engine.OpObjectPut}})
	var want []engine.Seq
	for i := range 300 {
		want = append(want, mustPut(t, db, "alice", fmt.Sprintf("e%d.ics", i)))
	}
	_, stop := start(t, Options{DB: db, SaveEvery: 64, SaveInterval: time.Hour})
	waitFor(t, "a part of the backlog", func() bool { s, _, _, _ := r.snapshot(); return len(s) >= 100 })
	stop()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if cur, _ := func() (engine.Seq, error) {
		db2 := mustOpenDB(t, dir)
		defer db2.Close()
		return db2.Cursor(engine.WebhookCursor(w.ID))
	}(); cur < want[0] || cur >= want[len(want)-1] {
		t.Fatalf("cursor at the stop: %d, want within the backlog", cur)
	}
	db = mustOpenDB(t, dir)
	start(t, Options{DB: db})
	waitFor(t, "the whole backlog", func() bool { s, _, _, _ := r.snapshot(); return slices.Contains(s, uint64(want[len(want)-1])) })
	got, ids, bad, _ := r.snapshot()
	if bad != 0 {
		t.Fatalf("%d bad signatures", bad)
	}
	var first []uint64
	seen := map[uint64]bool{}
	for i, s := range got {
		if ids[i] != strconv.FormatUint(s, 10) {
			t.Fatalf("change %d came with webhook-id %q", s, ids[i])
		}
		if !seen[s] {
			seen[s] = true
			first = append(first, s)
		}
	}
	checkOnceInOrder(t, first, nil, want)
	if len(got)-len(first) > 64 {
		t.Errorf("%d changes sent twice, want at most SaveEvery (64)", len(got)-len(first))
	}
}

// TestSSRF: a user's webhook never connects to a loopback address (the
// check is at dial time); an administrator's may.
func TestSSRF(t *testing.T) {
	db := mustOpenDB(t, t.TempDir())
	user, admin := newReceiver(t), newReceiver(t)
	uw := mustWebhook(t, db, user, engine.Webhook{Owner: "alice"})
	mustWebhook(t, db, admin, engine.Webhook{})
	d, _ := start(t, Options{DB: db})
	seq := mustPut(t, db, "alice", "a0.ics")
	waitFor(t, "the admin's delivery", func() bool { s, _, _, _ := admin.snapshot(); return slices.Contains(s, uint64(seq)) })
	waitFor(t, "the user's refusal", func() bool { return strings.Contains(d.Status(uw.ID).LastError, "not allowed") })
	if _, _, _, n := user.snapshot(); n != 0 {
		t.Errorf("the user's webhook reached a loopback receiver (%d requests)", n)
	}
	for _, c := range []struct {
		addr string
		bad  bool
	}{
		{"127.0.0.1", true}, {"::1", true}, {"10.1.2.3", true}, {"172.16.0.1", true}, {"192.168.1.1", true},
		{"169.254.169.254", true}, {"100.64.0.1", true}, {"0.0.0.0", true}, {"::", true}, {"fd00::1", true},
		{"fe80::1", true}, {"::ffff:127.0.0.1", true}, {"224.0.0.1", true},
		{"93.184.215.14", false}, {"2606:2800:21f:cb07:6820:80da:af6b:8b2c", false},
	} {
		err := guard("tcp", netip.AddrPortFrom(netip.MustParseAddr(c.addr), 443).String(), nil)
		if got := errors.Is(err, ErrForbiddenAddress); got != c.bad {
			t.Errorf("guard(%s) = %v, want refused %v", c.addr, err, c.bad)
		}
	}
}

// TestBackoff: waits double from the minimum up to the maximum, each
// between half and all of its step.
func TestBackoff(t *testing.T) {
	for attempt, step := range []time.Duration{10, 20, 40, 80, 100, 100} {
		for range 50 {
			if b := backoff(10, 100, attempt); b < step/2 || b > step {
				t.Fatalf("backoff(attempt %d) = %v, want within [%v, %v]", attempt, b, step/2, step)
			}
		}
	}
	if b := backoff(time.Second, time.Minute, 200); b > time.Minute || b < 30*time.Second {
		t.Errorf("backoff after 200 attempts = %v", b)
	}
}

// TestNoRedirects: a receiver's redirect is a failed attempt, never
// followed (a user's webhook could otherwise be bounced to an internal
// address past the URL check).
func TestNoRedirects(t *testing.T) {
	db := mustOpenDB(t, t.TempDir())
	inside := newReceiver(t)
	r := newReceiver(t)
	r.answer = func(int) int { return http.StatusFound }
	r.Config.Handler = http.RedirectHandler(inside.URL, http.StatusFound)
	w := mustWebhook(t, db, r, engine.Webhook{})
	d, _ := start(t, Options{DB: db})
	mustPut(t, db, "alice", "a0.ics")
	waitFor(t, "the failure", func() bool { return strings.Contains(d.Status(w.ID).LastError, "302") })
	if _, _, _, n := inside.snapshot(); n != 0 {
		t.Errorf("the redirect was followed (%d requests)", n)
	}
}

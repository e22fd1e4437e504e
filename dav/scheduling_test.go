package dav

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
)

// meeting is an organizer's event of alice's with the given attendees.
func meeting(uid string, attendees ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n"+
		"DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Meeting\r\nORGANIZER:mailto:alice@example.org\r\n", uid)
	for _, a := range attendees {
		fmt.Fprintf(&b, "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:%s\r\n", a)
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	return b.String()
}

// serveUser sends one request as user (password = name).
func serveUser(h http.Handler, user, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.SetBasicAuth(user, user)
	req.Header.Set("Content-Type", "text/calendar")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// mustSchedulingUsers gives alice, bob and carol accounts with addresses
// NAME@example.org and homes.
func mustSchedulingUsers(tb testing.TB, h *Handler, db *engine.DB, names ...string) {
	tb.Helper()
	for _, u := range names {
		if err := db.PutUser(context.Background(), testMeta, engine.User{Name: u, Emails: []string{u + "@example.org"}}); err != nil {
			tb.Fatal(err)
		}
		if err := h.ensureHome(context.Background(), u, testMeta); err != nil {
			tb.Fatal(err)
		}
	}
}

// inboxNames lists user's inbox.
func inboxNames(tb testing.TB, db *engine.DB, user string) []string {
	tb.Helper()
	v, err := db.View()
	if err != nil {
		tb.Fatal(err)
	}
	defer v.Close()
	var out []string
	for o, err := range v.Objects(inboxPath(user), engine.ListOptions{}) {
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, o.Name)
	}
	return out
}

// TestScheduleBounds: more ATTENDEEs than the bound is 403
// max-attendees-per-instance and delivers nothing; Schedule-Reply: F
// stores an attendee's answer without a REPLY (RFC 6638 §8.1); every
// delivery is an event of the log naming method, sender, recipient and
// status, written with the organizer as actor.
func TestScheduleBounds(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustSchedulingUsers(t, h, db, "alice", "bob")
	many := []string{"bob@example.org"}
	for i := range 100 {
		many = append(many, fmt.Sprintf("guest%d@elsewhere.test", i))
	}
	rec := serveUser(h, "alice", "PUT", "/dav/home/alice/calendar/big.ics", meeting("big", many...))
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "max-attendees-per-instance") {
		t.Fatalf("101 attendees: %d %s, want 403 max-attendees-per-instance", rec.Code, rec.Body)
	}
	if got := inboxNames(t, db, "bob"); len(got) != 0 {
		t.Fatalf("a refused invitation delivered %q", got)
	}

	if rec := serveUser(h, "alice", "PUT", "/dav/home/alice/calendar/m.ics", meeting("m", "bob@example.org")); rec.Code != http.StatusCreated {
		t.Fatalf("invitation: %d %s", rec.Code, rec.Body)
	}
	accepted := strings.Replace(meeting("m", "bob@example.org"), "PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED", 1)
	if rec := serveUser(h, "bob", "PUT", "/dav/home/bob/calendar/m.ics", accepted, "Schedule-Reply", "F"); rec.Code != http.StatusNoContent {
		t.Fatalf("bob's answer: %d %s", rec.Code, rec.Body)
	}
	if got := inboxNames(t, db, "alice"); len(got) != 0 {
		t.Errorf("Schedule-Reply: F delivered %q to alice", got)
	}
	o, err := db.Object("/dav/home/alice/calendar/", "m.ics", true)
	if err != nil || strings.Contains(string(o.Body), "ACCEPTED") {
		t.Errorf("alice's copy after a silent answer: %v\n%s", err, o.Body)
	}

	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var got []string
	for ev, err := range v.Log(1) {
		if err != nil {
			t.Fatal(err)
		}
		if s := ev.Schedule; s != nil {
			got = append(got, fmt.Sprintf("%s%s %s %s->%s %s by %s", ev.CollectionPath, ev.Object, s.Method, s.Originator, s.RecipientUser, s.Status, ev.Actor))
		}
	}
	slices.Sort(got)
	want := []string{
		"/dav/home/bob/calendar/m.ics REQUEST mailto:alice@example.org->bob 1.2 by alice",
		"/dav/home/bob/inbox/" + inboxNames(t, db, "bob")[0] + " REQUEST mailto:alice@example.org->bob 1.2 by alice",
	}
	if !slices.Equal(got, want) {
		t.Errorf("scheduling events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// BenchmarkSchedule50 is an organizer's PUT of a new meeting with 50
// local attendees, until every inbox and calendar holds it (one engine
// step): ns/op, and p50-ms and p99-ms of the requests.
func BenchmarkSchedule50(b *testing.B) {
	h, db := mustHandler(b, Options{})
	var names, addrs []string
	for i := range 50 {
		names = append(names, fmt.Sprintf("u%02d", i))
		addrs = append(addrs, fmt.Sprintf("u%02d@example.org", i))
	}
	mustSchedulingUsers(b, h, db, append(names, "alice")...)
	var took []time.Duration
	i := 0
	for b.Loop() {
		i++
		start := time.Now()
		req := httptest.NewRequest("PUT", fmt.Sprintf("/dav/home/alice/calendar/m%d.ics", i), strings.NewReader(meeting(fmt.Sprintf("m%d", i), addrs...)))
		req.SetBasicAuth("alice", "alice")
		req.Header.Set("Content-Type", "text/calendar")
		serve(b, h, req, http.StatusCreated)
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	q := func(p float64) float64 { return float64(took[int(p*float64(len(took)-1))]) / 1e6 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// TestSchedulePrivileges: the inbox supports CALDAV:schedule-deliver and
// its parts, the outbox CALDAV:schedule-send (RFC 6638 §6.1), a calendar
// neither; a write delegate holds schedule-send on the delegator's
// outbox and POSTs a free-busy lookup for them, a read delegate does not
// and is refused with need-privileges; a recipient the sender may not
// deliver to (Scheduler.MayDeliver) gets nothing and SCHEDULE-STATUS 3.8
// on the organizer's copy while the others get the invitation.
func TestSchedulePrivileges(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustSchedulingUsers(t, h, db, "alice", "bob", "carol", "dave")
	ctx := context.Background()
	if err := db.SetProxy(ctx, testMeta, "alice", "bob", engine.AccessReadWrite); err != nil {
		t.Fatal(err)
	}
	if err := db.SetProxy(ctx, testMeta, "alice", "carol", engine.AccessRead); err != nil {
		t.Fatal(err)
	}
	const propfind = `<D:propfind xmlns:D="DAV:"><D:prop><D:supported-privilege-set/><D:current-user-privilege-set/></D:prop></D:propfind>`
	for _, tc := range []struct {
		user, path string
		want, not  []string
	}{
		{"alice", "/dav/home/alice/inbox/", []string{"schedule-deliver-invite", "schedule-deliver-reply", "schedule-query-freebusy"}, []string{"schedule-send"}},
		{"alice", "/dav/home/alice/outbox/", []string{"schedule-send-invite", "schedule-send-reply", "schedule-send-freebusy"}, []string{"schedule-deliver"}},
		{"alice", "/dav/home/alice/calendar/", nil, []string{"schedule-deliver", "schedule-send"}},
	} {
		rec := serveUser(h, tc.user, "PROPFIND", tc.path, propfind, "Depth", "0")
		body := rec.Body.String()
		for _, w := range tc.want {
			if strings.Count(body, ":"+w+"/>") != 2 { // supported and current
				t.Errorf("%s of %s: %s not supported and held once each:\n%s", tc.path, tc.user, w, body)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(body, n) {
				t.Errorf("%s of %s names %s:\n%s", tc.path, tc.user, n, body)
			}
		}
	}
	lookup := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb\r\n" +
		"DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T000000Z\r\nDTEND:20260106T000000Z\r\n" +
		"ORGANIZER:mailto:alice@example.org\r\nATTENDEE:mailto:dave@example.org\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"
	if rec := serveUser(h, "bob", "POST", "/dav/home/alice/outbox/", lookup); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "2.0;Success") {
		t.Errorf("a write delegate's lookup for alice: %d %s", rec.Code, rec.Body)
	}
	if rec := serveUser(h, "carol", "POST", "/dav/home/alice/outbox/", lookup); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "need-privileges") {
		t.Errorf("a read delegate's lookup for alice: %d %s, want 403 need-privileges", rec.Code, rec.Body)
	}

	h.sched.MayDeliver = func(_ *engine.View, sender, recipient string) (bool, error) {
		return !(sender == "alice" && recipient == "dave"), nil
	}
	if rec := serveUser(h, "alice", "PUT", "/dav/home/alice/calendar/p.ics", meeting("p", "carol@example.org", "dave@example.org")); rec.Code != http.StatusCreated {
		t.Fatalf("invitation: %d %s", rec.Code, rec.Body)
	}
	o, err := db.Object("/dav/home/alice/calendar/", "p.ics", true)
	if err != nil {
		t.Fatal(err)
	}
	unfolded := strings.ReplaceAll(string(o.Body), "\r\n ", "")
	for _, want := range []string{"SCHEDULE-STATUS=1.2:mailto:carol@example.org", "SCHEDULE-STATUS=3.8:mailto:dave@example.org"} {
		if !strings.Contains(unfolded, want) {
			t.Errorf("alice's copy lacks %s:\n%s", want, o.Body)
		}
	}
	if got := inboxNames(t, db, "dave"); len(got) != 0 {
		t.Errorf("a recipient without schedule-deliver got %q", got)
	}
	if got := inboxNames(t, db, "carol"); len(got) != 1 {
		t.Errorf("carol's inbox %q, want the invitation", got)
	}
}

// TestScheduleRestoreSendsNothing: restoring alice's calendar as of
// before she cancelled a meeting brings her organizer's copy back as a
// plain put: no event of the restore carries a schedule, bob's inbox
// keeps exactly the invitation and the cancellation, and his copy stays
// cancelled (issue 18: a restore does not resend).
func TestScheduleRestoreSendsNothing(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustSchedulingUsers(t, h, db, "alice", "bob")
	if rec := serveUser(h, "alice", "PUT", "/dav/home/alice/calendar/r.ics", meeting("r", "bob@example.org")); rec.Code != http.StatusCreated {
		t.Fatalf("invitation: %d %s", rec.Code, rec.Body)
	}
	invited, err := db.Object("/dav/home/alice/calendar/", "r.ics", false)
	if err != nil {
		t.Fatal(err)
	}
	if rec := serveUser(h, "alice", "DELETE", "/dav/home/alice/calendar/r.ics", ""); rec.Code != http.StatusNoContent {
		t.Fatalf("cancellation: %d %s", rec.Code, rec.Body)
	}
	if got := inboxNames(t, db, "bob"); len(got) != 2 {
		t.Fatalf("bob's inbox after the cancellation: %q, want two messages", got)
	}
	res, err := db.Restore(context.Background(), testMeta, engine.RestoreRequest{Path: "/dav/home/alice/calendar/", At: engine.AsOf{Seq: invited.Seq}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) == 0 {
		t.Fatal("the restore did nothing")
	}
	if _, err := db.Object("/dav/home/alice/calendar/", "r.ics", false); err != nil {
		t.Fatalf("alice's meeting after the restore: %v", err)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for ev, err := range v.Log(res.Actions[0].Seq) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Schedule != nil {
			t.Errorf("the restore wrote %s%s with a schedule %+v", ev.CollectionPath, ev.Object, ev.Schedule)
		}
	}
	if got := inboxNames(t, db, "bob"); len(got) != 2 {
		t.Errorf("bob's inbox after the restore: %q, want the same two messages", got)
	}
	o, err := db.Object("/dav/home/bob/calendar/", "r.ics", true)
	if err != nil || !strings.Contains(string(o.Body), "STATUS:CANCELLED") {
		t.Errorf("bob's copy after the restore: %v\n%s", err, o.Body)
	}
}

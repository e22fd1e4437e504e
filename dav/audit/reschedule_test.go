package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/engine"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// schedServer is a DAV handler with alice and bob, whose user API
// restores with h as its scheduler.
func schedServer(t *testing.T) (*engine.DB, func(user, method, path, body string) *httptest.ResponseRecorder) {
	t.Helper()
	db := mustOpen(t)
	for _, u := range []string{"alice", "bob"} {
		if err := db.PutUser(ctx, aliceMeta, engine.User{Name: u, Emails: []string{u + "@example.org"}}); err != nil {
			t.Fatal(err)
		}
	}
	_, do := schedHandler(t, db, nil)
	for _, u := range []string{"alice", "bob"} {
		do(u, "PROPFIND", "/dav/", "") // the home, calendar and inbox
	}
	return db, do
}

// schedHandler is the DAV handler of schedServer on db; its user API
// restores with wrap(handler) as its scheduler (the handler when wrap is
// nil).
func schedHandler(t *testing.T, db *engine.DB, wrap func(*dav.Handler) Rescheduler) (*dav.Handler, func(user, method, path, body string) *httptest.ResponseRecorder) {
	t.Helper()
	u := &User{DB: db}
	h, err := dav.NewHandler(dav.Options{DB: db, Auth: fakeAuth{"alice": engine.RoleUser, "bob": engine.RoleUser}, Audit: u})
	if err != nil {
		t.Fatal(err)
	}
	u.Scheduler = func() Rescheduler { return h }
	if wrap != nil {
		u.Scheduler = func() Rescheduler { return wrap(h) }
	}
	do := func(user, method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.SetBasicAuth(user, "secret")
		req.Header.Set("Content-Type", "text/calendar")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	return h, do
}

// schedMeeting is alice's meeting r with bob, bob's PARTSTAT partstat.
func schedMeeting(partstat string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:r\r\nDTSTAMP:20260101T000000Z\r\n" +
		"DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Meeting\r\nORGANIZER:mailto:alice@example.org\r\n" +
		"ATTENDEE;PARTSTAT=" + partstat + ":mailto:bob@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
}

// inbox returns the METHODs of the messages in user's schedule inbox.
func inbox(t *testing.T, db *engine.DB, user string) []string {
	t.Helper()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var out []string
	for o, err := range v.Objects("/dav/home/"+user+"/inbox/", engine.ListOptions{Bodies: true}) {
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(string(o.Body), "METHOD:")
		m, _, _ := strings.Cut(rest, "\r\n")
		out = append(out, m)
	}
	return out
}

func restoreQuery(t *testing.T, do func(user, method, path, body string) *httptest.ResponseRecorder, user, path string, seq engine.Seq, resched bool) RestoreReport {
	t.Helper()
	q := fmt.Sprintf("%s?restore=%d", path, seq)
	if resched {
		q += "&reschedule=1"
	}
	rec := do(user, http.MethodPost, q, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("POST %s: %d %s", q, rec.Code, rec.Body)
	}
	var rep RestoreReport
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Actions) == 0 || len(rep.RescheduleErrors) > 0 {
		t.Fatalf("POST %s: %+v", q, rep)
	}
	return rep
}

// TestRestoreReschedule: alice invites bob, then deletes the meeting
// (bob gets the REQUEST and the CANCEL); restoring her calendar as of the
// invitation sends nothing and leaves bob's copy cancelled, while the
// same restore with reschedule=1 delivers a new REQUEST to bob (his copy
// is live again), events of the log with their schedule.
func TestRestoreReschedule(t *testing.T) {
	for _, resched := range []bool{false, true} {
		t.Run(fmt.Sprint("reschedule=", resched), func(t *testing.T) {
			db, do := schedServer(t)
			if rec := do("alice", "PUT", cal+"r.ics", schedMeeting("NEEDS-ACTION")); rec.Code != http.StatusCreated {
				t.Fatalf("invitation: %d %s", rec.Code, rec.Body)
			}
			invited, err := db.Object(cal, "r.ics", false)
			if err != nil {
				t.Fatal(err)
			}
			if rec := do("alice", "DELETE", cal+"r.ics", ""); rec.Code != http.StatusNoContent {
				t.Fatalf("cancellation: %d %s", rec.Code, rec.Body)
			}
			before := scheduleEvents(t, db)
			rep := restoreQuery(t, do, "alice", cal, invited.Seq, resched)
			want, wantCopy, sent := "REQUEST CANCEL", "STATUS:CANCELLED", 0
			if resched {
				want, wantCopy, sent = "REQUEST CANCEL REQUEST", "", 1
			}
			if got := inbox(t, db, "bob"); strings.Join(sortedMethods(got), " ") != strings.Join(sortedMethods(strings.Fields(want)), " ") {
				t.Errorf("bob's inbox: %q, want %q", got, want)
			}
			if rep.Rescheduled != sent {
				t.Errorf("report: %d rescheduled, want %d", rep.Rescheduled, sent)
			}
			o, err := db.Object("/dav/home/bob/calendar/", "r.ics", true)
			if err != nil || strings.Contains(string(o.Body), "STATUS:CANCELLED") != (wantCopy != "") {
				t.Errorf("bob's copy: %v\n%s", err, o.Body)
			}
			scheduled := scheduleEvents(t, db) - before
			if (scheduled > 0) != resched {
				t.Errorf("%d scheduling events after the restore", scheduled)
			}
		})
	}
}

// TestRestoreRescheduleAttendee: bob accepts, then restores his calendar
// as of the invitation (PARTSTAT back to NEEDS-ACTION): without
// reschedule alice gets nothing and still sees ACCEPTED; with it she gets
// a REPLY and her copy shows NEEDS-ACTION.
func TestRestoreRescheduleAttendee(t *testing.T) {
	for _, resched := range []bool{false, true} {
		t.Run(fmt.Sprint("reschedule=", resched), func(t *testing.T) {
			db, do := schedServer(t)
			if rec := do("alice", "PUT", cal+"r.ics", schedMeeting("NEEDS-ACTION")); rec.Code != http.StatusCreated {
				t.Fatalf("invitation: %d %s", rec.Code, rec.Body)
			}
			bobCal := "/dav/home/bob/calendar/"
			invited, err := db.Object(bobCal, "r.ics", true)
			if err != nil {
				t.Fatal(err)
			}
			accepted := strings.Replace(string(invited.Body), "PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED", 1)
			if rec := do("bob", "PUT", bobCal+"r.ics", accepted); rec.Code/100 != 2 {
				t.Fatalf("bob accepts: %d %s", rec.Code, rec.Body)
			}
			before := len(inbox(t, db, "alice"))
			rep := restoreQuery(t, do, "bob", bobCal+"r.ics", invited.Seq, resched)
			replies := len(inbox(t, db, "alice")) - before
			a, err := db.Object(cal, "r.ics", true)
			if err != nil {
				t.Fatal(err)
			}
			accept := strings.Contains(string(a.Body), "PARTSTAT=ACCEPTED")
			if resched && (replies != 1 || accept || rep.Rescheduled != 1) {
				t.Errorf("with reschedule: %d REPLY, alice's copy:\n%s", replies, a.Body)
			}
			if !resched && (replies != 0 || !accept) {
				t.Errorf("without reschedule: %d REPLY, alice's copy:\n%s", replies, a.Body)
			}
		})
	}
}

// TestRestoreRescheduleNeedsServer: where no scheduler runs (the CLI on a
// data directory) a restore with reschedule is refused before it writes.
func TestRestoreRescheduleNeedsServer(t *testing.T) {
	db := mustOpen(t)
	mustCalendar(t, db)
	o, err := db.PutObject(ctx, aliceMeta, cal, "a.ics", calObject(vevent("a", "A")), engine.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteObject(ctx, aliceMeta, cal, "a.ics", ""); err != nil {
		t.Fatal(err)
	}
	l := &Local{DB: db, Meta: aliceMeta}
	_, err = l.Restore(ctx, RestoreQuery{Path: cal, AsOf: fmt.Sprint(o.Seq), Reschedule: true})
	if !errors.Is(err, errNoScheduler) {
		t.Fatalf("restore: %v, want %v", err, errNoScheduler)
	}
	if _, err := db.Object(cal, "a.ics", false); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("the refused restore wrote: %v", err)
	}
}

func sortedMethods(ms []string) []string {
	out := append([]string(nil), ms...)
	slices.Sort(out)
	return out
}

// scheduleEvents counts the events of the log that delivered a message.
func scheduleEvents(t *testing.T, db *engine.DB) int {
	t.Helper()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	n := 0
	for ev, err := range v.Log(1) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Schedule != nil {
			n++
		}
	}
	return n
}

// TestRestoreRescheduleDeletedCalendar: a restore of a home as of a
// moment before a calendar existed deletes the calendar with its
// objects; with reschedule=1 its scheduling objects are scheduled as
// deleted — alice's meeting in her new calendar sends bob a CANCEL (his
// copy cancelled), bob's copy in his new (default) calendar sends alice
// a REPLY DECLINED (her copy says so); without it nothing is sent.
func TestRestoreRescheduleDeletedCalendar(t *testing.T) {
	for _, resched := range []bool{false, true} {
		t.Run(fmt.Sprint("reschedule=", resched), func(t *testing.T) {
			db, do := schedServer(t)
			bobCal := "/dav/home/bob/calendar/"
			// alice's meeting lives in a calendar made after aliceT.
			aliceT := db.Head()
			work := "/dav/home/alice/work/"
			if rec := do("alice", "MKCALENDAR", work, ""); rec.Code != http.StatusCreated {
				t.Fatalf("MKCALENDAR: %d %s", rec.Code, rec.Body)
			}
			if rec := do("alice", "PUT", work+"r.ics", schedMeeting("NEEDS-ACTION")); rec.Code != http.StatusCreated {
				t.Fatalf("invitation: %d %s", rec.Code, rec.Body)
			}
			before := inbox(t, db, "bob")
			rep := restoreQuery(t, do, "alice", "/dav/home/alice/", aliceT, resched)
			cancels := len(inbox(t, db, "bob")) - len(before)
			o, err := db.Object(bobCal, "r.ics", true)
			if err != nil {
				t.Fatal(err)
			}
			cancelled := strings.Contains(string(o.Body), "STATUS:CANCELLED")
			if _, err := db.Collection(work); !errors.Is(err, engine.ErrNotFound) {
				t.Fatalf("the restore left %s: %v", work, err)
			}
			if resched && (cancels != 1 || !cancelled || rep.Rescheduled != 1) {
				t.Errorf("with reschedule: %d messages to bob (%d rescheduled), bob's copy:\n%s", cancels, rep.Rescheduled, o.Body)
			}
			if !resched && (cancels != 0 || cancelled) {
				t.Errorf("without reschedule: %d messages to bob, bob's copy:\n%s", cancels, o.Body)
			}

			// bob's copy of r2 lands in a calendar made after bobT, his
			// default calendar then.
			bobT := db.Head()
			side := "/dav/home/bob/side/"
			if rec := do("bob", "MKCALENDAR", side, ""); rec.Code != http.StatusCreated {
				t.Fatalf("MKCALENDAR: %d %s", rec.Code, rec.Body)
			}
			if rec := do("bob", "PROPPATCH", "/dav/home/bob/inbox/", `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">`+
				`<D:set><D:prop><C:schedule-default-calendar-URL><D:href>`+side+`</D:href></C:schedule-default-calendar-URL></D:prop></D:set></D:propertyupdate>`); rec.Code != http.StatusMultiStatus || strings.Contains(rec.Body.String(), "HTTP/1.1 4") {
				t.Fatalf("PROPPATCH: %d %s", rec.Code, rec.Body)
			}
			if rec := do("alice", "PUT", cal+"r2.ics", strings.Replace(schedMeeting("NEEDS-ACTION"), "UID:r", "UID:r2", 1)); rec.Code != http.StatusCreated {
				t.Fatalf("second invitation: %d %s", rec.Code, rec.Body)
			}
			if _, err := db.Object(side, "r2.ics", false); err != nil {
				t.Fatalf("bob's copy of r2 in %s: %v", side, err)
			}
			replies := len(inbox(t, db, "alice"))
			rep = restoreQuery(t, do, "bob", "/dav/home/bob/", bobT, resched)
			replies = len(inbox(t, db, "alice")) - replies
			a, err := db.Object(cal, "r2.ics", true)
			if err != nil {
				t.Fatal(err)
			}
			declined := strings.Contains(string(a.Body), "PARTSTAT=DECLINED")
			if resched && (replies != 1 || !declined || rep.Rescheduled != 1) {
				t.Errorf("with reschedule: %d REPLY (%d rescheduled), alice's copy:\n%s", replies, rep.Rescheduled, a.Body)
			}
			if !resched && (replies != 0 || declined) {
				t.Errorf("without reschedule: %d REPLY, alice's copy:\n%s", replies, a.Body)
			}
		})
	}
}

// errCrashed is what crashAfter's items fail with once the "server" died.
var errCrashed = errors.New("test: the server crashed")

// crashAfter lets n items of a reschedule job through, then takes a crash
// copy of the file system (what kill -9 leaves: only what was synced) and
// fails every further item, as a dead server would send nothing more.
type crashAfter struct {
	Rescheduler
	n       int
	fs      *vfs.MemFS
	crashed *vfs.MemFS
}

func (c *crashAfter) Reschedule(ctx context.Context, m engine.Meta, it engine.RescheduleItem, prev []byte) (int, error) {
	if c.n == 0 {
		if c.crashed == nil {
			c.crashed = c.fs.CrashClone(vfs.CrashCloneCfg{})
		}
		return 0, errCrashed
	}
	c.n--
	return c.Rescheduler.Reschedule(ctx, m, it, prev)
}

// inboxByUID counts the messages of user's schedule inbox by "METHOD UID".
func inboxByUID(t *testing.T, db *engine.DB, user string) map[string]int {
	t.Helper()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	out := map[string]int{}
	for o, err := range v.Objects("/dav/home/"+user+"/inbox/", engine.ListOptions{Bodies: true}) {
		if err != nil {
			t.Fatal(err)
		}
		_, m, _ := strings.Cut(string(o.Body), "METHOD:")
		m, _, _ = strings.Cut(m, "\r\n")
		_, uid, _ := strings.Cut(string(o.Body), "\r\nUID:")
		uid, _, _ = strings.Cut(uid, "\r\n")
		out[m+" "+uid]++
	}
	return out
}

// TestRestoreRescheduleResumesAfterCrash: alice invites bob to three
// meetings and deletes them; her restore with reschedule=1 records its
// job of three items in its own commit, and the server crashes after the
// first item's step. The data directory the crash leaves has the restore
// and the first REQUEST, with two items pending; the restarted server
// resumes them, so bob gets exactly one new REQUEST per meeting — the
// first not again — and a second resume, or scheduling the done item
// again, sends nothing. The pending-job projection rebuilds identically.
func TestRestoreRescheduleResumesAfterCrash(t *testing.T) {
	fs := vfs.NewCrashableMem()
	db, err := engine.Open("db", &engine.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, u := range []string{"alice", "bob"} {
		if err := db.PutUser(ctx, aliceMeta, engine.User{Name: u, Emails: []string{u + "@example.org"}}); err != nil {
			t.Fatal(err)
		}
	}
	crash := &crashAfter{n: 1, fs: fs}
	_, do := schedHandler(t, db, func(h *dav.Handler) Rescheduler { crash.Rescheduler = h; return crash })
	for _, u := range []string{"alice", "bob"} {
		do(u, "PROPFIND", "/dav/", "")
	}
	uids := []string{"r1", "r2", "r3"}
	for _, uid := range uids {
		if rec := do("alice", "PUT", cal+uid+".ics", strings.Replace(schedMeeting("NEEDS-ACTION"), "UID:r", "UID:"+uid, 1)); rec.Code != http.StatusCreated {
			t.Fatalf("invitation %s: %d %s", uid, rec.Code, rec.Body)
		}
	}
	invited := db.Head()
	for _, uid := range uids {
		if rec := do("alice", "DELETE", cal+uid+".ics", ""); rec.Code != http.StatusNoContent {
			t.Fatalf("cancellation %s: %d %s", uid, rec.Code, rec.Body)
		}
	}
	rec := do("alice", http.MethodPost, fmt.Sprintf("%s?restore=%d&reschedule=1", cal, invited), "")
	var rep RestoreReport
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("restore: %d %s", rec.Code, rec.Body)
	}
	if rep.Rescheduled != 1 || len(rep.RescheduleErrors) != 2 || crash.crashed == nil {
		t.Fatalf("before the crash: %d delivered, errors %q", rep.Rescheduled, rep.RescheduleErrors)
	}

	db2, err := engine.Open("db", &engine.Options{FS: crash.crashed})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	pending, err := db2.PendingReschedules(0)
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending after the crash: %+v, %v", pending, err)
	}
	h2, _ := schedHandler(t, db2, nil)
	m := engine.Meta{Actor: "almanac"}
	rep2, err := ResumeReschedules(ctx, db2, h2, m)
	if err != nil || rep2.Rescheduled != 2 || len(rep2.RescheduleErrors) > 0 {
		t.Fatalf("resume: %+v, %v", rep2, err)
	}
	want := map[string]int{}
	for _, uid := range uids {
		want["REQUEST "+uid], want["CANCEL "+uid] = 2, 1 // the invitation, the restore's
	}
	got := inboxByUID(t, db2, "bob")
	if !maps.Equal(got, want) {
		t.Errorf("bob's inbox after the resume: %v, want %v", got, want)
	}
	if pending, err := db2.PendingReschedules(0); err != nil || len(pending) != 0 {
		t.Errorf("pending after the resume: %+v, %v", pending, err)
	}
	if rep3, err := ResumeReschedules(ctx, db2, h2, m); err != nil || rep3.Rescheduled != 0 {
		t.Errorf("second resume: %+v, %v", rep3, err)
	}
	done := engine.RescheduleItem{Job: pending[0].Job, Index: 0, Path: cal, Name: "r1.ics"}
	if n, err := h2.Reschedule(ctx, m, done, nil); err != nil || n != 0 {
		t.Errorf("the item done before the crash, again: %d delivered, %v", n, err)
	}
	if got := inboxByUID(t, db2, "bob"); !maps.Equal(got, want) {
		t.Errorf("bob's inbox after scheduling a done item again: %v, want %v", got, want)
	}
	if err := db2.Verify(ctx); err != nil {
		t.Errorf("verify: %v", err)
	}
}

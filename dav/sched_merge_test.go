package dav

import (
	"net/http"
	"strings"
	"testing"
)

// TestOrganizerPutKeepsReplies: an organizer's client that PUTs a copy
// fetched before an attendee's reply (stale PARTSTATs, no SCHEDULE-STATUS)
// neither wipes the reply the server applied nor the SCHEDULE-STATUS of
// earlier deliveries, whether the PUT sends a message or not; a PARTSTAT
// the organizer sets for an attendee (a forged answer) gives way to the
// attendee's own, on the organizer's copy and in what the attendees get;
// rescheduling may only reset answers to NEEDS-ACTION.
func TestOrganizerPutKeepsReplies(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustSchedulingUsers(t, h, db, "alice", "bob", "carol")
	const path = "/dav/home/alice/calendar/m.ics"
	first := meeting("m", "bob@example.org", "carol@example.org")
	if rec := serveUser(h, "alice", "PUT", path, first); rec.Code != http.StatusCreated {
		t.Fatalf("invitation: %d %s", rec.Code, rec.Body)
	}
	status := func(user, attendee string) (string, string) {
		t.Helper()
		o, err := db.Object("/dav/home/"+user+"/calendar/", "m.ics", true)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.ReplaceAll(string(o.Body), "\r\n ", ""), "\r\n") {
			if strings.HasPrefix(line, "ATTENDEE") && strings.HasSuffix(line, "mailto:"+attendee+"@example.org") {
				ps, st := "", ""
				for _, prm := range strings.Split(strings.SplitN(line, ":mailto:", 2)[0], ";") {
					if v, ok := strings.CutPrefix(prm, "PARTSTAT="); ok {
						ps = v
					}
					if v, ok := strings.CutPrefix(prm, "SCHEDULE-STATUS="); ok {
						st = v
					}
				}
				return ps, st
			}
		}
		t.Fatalf("%s's copy lists no %s:\n%s", user, attendee, o.Body)
		return "", ""
	}
	// A change that sends nothing (an X- property) keeps the
	// SCHEDULE-STATUS the client does not send back.
	if rec := serveUser(h, "alice", "PUT", path, strings.Replace(first, "SUMMARY:Meeting", "SUMMARY:Meeting\r\nX-CLIENT-NOTE:blue", 1)); rec.Code != http.StatusNoContent {
		t.Fatalf("no-message PUT: %d %s", rec.Code, rec.Body)
	}
	if got := inboxNames(t, db, "bob"); len(got) != 1 {
		t.Fatalf("bob's inbox after a change that concerns no one: %v", got)
	}
	for _, a := range []string{"bob", "carol"} {
		if _, st := status("alice", a); st != "1.2" {
			t.Errorf("after a no-message PUT, %s's SCHEDULE-STATUS on alice's copy is %q, want 1.2", a, st)
		}
	}
	o, err := db.Object("/dav/home/bob/calendar/", "m.ics", true)
	if err != nil {
		t.Fatal(err)
	}
	accepted := strings.Replace(string(o.Body), "PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED", 1)
	if !strings.Contains(accepted, "ACCEPTED:mailto:bob") && !strings.Contains(accepted, "ACCEPTED;") {
		t.Fatalf("bob's copy has no PARTSTAT to change:\n%s", o.Body)
	}
	if rec := serveUser(h, "bob", "PUT", "/dav/home/bob/calendar/m.ics", accepted); rec.Code != http.StatusNoContent {
		t.Fatalf("bob accepts: %d %s", rec.Code, rec.Body)
	}
	for _, s := range []struct {
		step, body     string
		bobOrg, bobOwn string // bob's PARTSTAT on alice's copy and on his own
		carolOrg       string
		bobStatus      string // SCHEDULE-STATUS of bob on alice's copy
		carolOwn       string
	}{
		{"stale, nothing to send", strings.Replace(first, "SUMMARY:Meeting", "SUMMARY:Meeting\r\nX-CLIENT-NOTE:colour", 1),
			"ACCEPTED", "ACCEPTED", "NEEDS-ACTION", "1.2", "NEEDS-ACTION"},
		{"stale, a new summary", strings.Replace(first, "SUMMARY:Meeting", "SUMMARY:Planning", 1),
			"ACCEPTED", "ACCEPTED", "NEEDS-ACTION", "1.2", "NEEDS-ACTION"},
		{"forged answers", strings.ReplaceAll(strings.Replace(first, "SUMMARY:Meeting", "SUMMARY:Planning 2", 1), "NEEDS-ACTION", "DECLINED"),
			"ACCEPTED", "ACCEPTED", "NEEDS-ACTION", "1.2", "NEEDS-ACTION"},
		{"rescheduled, answers reset", strings.Replace(first, "DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z", "DTSTART:20260105T120000Z\r\nDTEND:20260105T130000Z\r\nSEQUENCE:1", 1),
			"NEEDS-ACTION", "NEEDS-ACTION", "NEEDS-ACTION", "1.2", "NEEDS-ACTION"},
	} {
		rec := serveUser(h, "alice", "PUT", path, s.body)
		if rec.Code != http.StatusNoContent {
			t.Fatalf("%s: %d %s", s.step, rec.Code, rec.Body)
		}
		if rec.Header().Get("ETag") != "" {
			t.Errorf("%s: an ETag for a stored object that differs from the body", s.step)
		}
		bobOrg, bobStatus := status("alice", "bob")
		carolOrg, carolStatus := status("alice", "carol")
		bobOwn, _ := status("bob", "bob")
		carolOwn, _ := status("carol", "carol")
		if carolStatus != "1.2" {
			t.Errorf("%s: carol's SCHEDULE-STATUS on alice's copy %q, want the 1.2 of her invitation", s.step, carolStatus)
		}
		if bobOrg != s.bobOrg || bobOwn != s.bobOwn || carolOrg != s.carolOrg || bobStatus != s.bobStatus || carolOwn != s.carolOwn {
			t.Errorf("%s: bob %s on alice's copy (SCHEDULE-STATUS %q), %s on his; carol %s on alice's, %s on hers; want bob %s (%s), %s; carol %s, %s",
				s.step, bobOrg, bobStatus, bobOwn, carolOrg, carolOwn, s.bobOrg, s.bobStatus, s.bobOwn, s.carolOrg, s.carolOwn)
		}
	}
}

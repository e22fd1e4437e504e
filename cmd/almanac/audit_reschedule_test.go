package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestAuditCLIReschedule runs `almanac restore` against a running server:
// restoring alice's deleted meeting m1 sends bob nothing, restoring m2
// with --reschedule delivers him a new invitation through the server's
// scheduler (serve hands the admin API its DAV handler), and
// --reschedule on a data directory is refused.
func TestAuditCLIReschedule(t *testing.T) {
	srv := startServer(t)
	for _, u := range []string{"alice", "bob"} {
		if err := srv.DB.UpdateUser(context.Background(), engine.Meta{Actor: "test"}, u, func(x *engine.User) error {
			x.Emails = []string{u + "@example.org"}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		srv.Do(t, "PROPFIND", "/dav/home/"+u+"/", u, "", "Depth", "0") // the home, calendar and inbox
	}
	meeting := func(uid string) string {
		return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\n" +
			"DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Meeting\r\nORGANIZER:mailto:alice@example.org\r\n" +
			"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	}
	inbox := func() int {
		v, err := srv.DB.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		n := 0
		for _, err := range v.Objects("/dav/home/bob/inbox/", engine.ListOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	moments := map[string]engine.Seq{}
	for _, m := range []string{"m1", "m2"} {
		cliPut(t, srv, "alice", cliCal+m+".ics", meeting(m))
		moments[m] = srv.DB.Head()
		cliDelete(t, srv, "alice", cliCal+m+".ics")
	}
	if got := inbox(); got != 4 {
		t.Fatalf("bob's inbox after two invitations and cancellations: %d messages", got)
	}
	server := []string{"--server", srv.BaseURL, "--user", "admin"}
	out := mustAuditCLI(t, "restore", append([]string{cliCal + "m1.ics", "--as-of", fmt.Sprint(moments["m1"])}, server...)...)
	if got := inbox(); got != 4 || strings.Contains(out, "rescheduled") {
		t.Errorf("a restore without --reschedule: bob has %d messages\n%s", got, out)
	}
	out = mustAuditCLI(t, "restore", append([]string{cliCal + "m2.ics", "--as-of", fmt.Sprint(moments["m2"]), "--reschedule"}, server...)...)
	if got := inbox(); got != 5 || !strings.Contains(out, "rescheduled: 1 message(s) delivered") {
		t.Errorf("a restore with --reschedule: bob has %d messages\n%s", got, out)
	}
	if resp, body := srv.Do(t, "GET", "/dav/home/bob/calendar/m2.ics", "bob", ""); resp.StatusCode != 200 || strings.Contains(body, "STATUS:CANCELLED") {
		t.Errorf("bob's copy of m2 after --reschedule: %s\n%s", resp.Status, body)
	}
	srv.Stop(t)
	_, _, err := runAuditCLI(t, "restore", cliCal+"m1.ics", "--as-of", fmt.Sprint(moments["m1"]), "--reschedule", "--data", srv.DataDir)
	if err == nil || !strings.Contains(err.Error(), "needs a running server") {
		t.Errorf("--reschedule on a data directory: %v", err)
	}
}

// TestServeResumesReschedule is the crash window of `restore --reschedule`
// as serve meets it: the restore's commit (which records its reschedule
// job) is on disk, the scheduling step of its object is not — the engine's
// Restore alone leaves exactly that. The server started again on the data
// directory must deliver bob the restored invitation once, with no item
// left pending, and a second start must deliver nothing more.
func TestServeResumesReschedule(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		if err := srv.DB.UpdateUser(ctx, engine.Meta{Actor: "test"}, u, func(x *engine.User) error {
			x.Emails = []string{u + "@example.org"}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		srv.Do(t, "PROPFIND", "/dav/home/"+u+"/", u, "", "Depth", "0") // the home, calendar and inbox
	}
	body := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20260101T000000Z\r\n" +
		"DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Meeting\r\nORGANIZER:mailto:alice@example.org\r\n" +
		"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	cliPut(t, srv, "alice", cliCal+"m1.ics", body)
	invited := srv.DB.Head()
	cliDelete(t, srv, "alice", cliCal+"m1.ics")
	requests := func(s *testServer) int {
		v, err := s.DB.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		n := 0
		for o, err := range v.Objects("/dav/home/bob/inbox/", engine.ListOptions{Bodies: true}) {
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(o.Body), "METHOD:REQUEST") {
				n++
			}
		}
		return n
	}
	if got := requests(srv); got != 1 {
		t.Fatalf("bob's inbox holds %d invitations before the restore, want 1", got)
	}
	res, err := srv.DB.Restore(ctx, engine.Meta{Actor: "admin"}, engine.RestoreRequest{
		Path: cliCal, Name: "m1.ics", At: engine.AsOf{Seq: invited}, Reschedule: true})
	if err != nil || res.Job == 0 {
		t.Fatalf("restore: %+v, %v", res, err)
	}
	if pending, err := srv.DB.PendingReschedules(0); err != nil || len(pending) != 1 {
		t.Fatalf("pending before the restart: %+v, %v", pending, err)
	}
	if got := requests(srv); got != 1 {
		t.Fatalf("the engine's restore alone delivered: bob holds %d invitations", got)
	}
	srv.Stop(t)

	for start := 1; start <= 2; start++ {
		s := serveOn(t, srv.DataDir)
		// The resume runs once the DAV handler is built, beside serving:
		// wait for its log line (done or failed) on the first start.
		if start == 1 {
			waitUntil(t, "the first start's resume of the restore's reschedule (its log line)", func() bool {
				logs := s.Logs.String()
				return strings.Contains(logs, "resumed reschedules") || strings.Contains(logs, "resume reschedules")
			})
		}
		if got := requests(s); got != 2 {
			t.Errorf("start %d: bob holds %d invitations, want 2 (the first and the restore's)\nlogs:\n%.3000s", start, got, s.Logs)
		}
		if pending, err := s.DB.PendingReschedules(0); err != nil || len(pending) != 0 {
			t.Errorf("start %d: pending %+v, %v", start, pending, err)
		}
		s.Stop(t)
	}
}

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// caldavSearchScript stores a small calendar through python-caldav, then
// runs its date searches (with and without expand) and its todo search,
// printing what it got back as JSON.
const caldavSearchScript = `
import datetime, json, sys
import caldav

base, user, password = sys.argv[1:4]
client = caldav.DAVClient(url=base + "/dav/", username=user, password=password)
cal = client.calendar(url=base + "/dav/home/" + user + "/calendar/")

weekly = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//interop//EN
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:weekly@interop
DTSTAMP:20240101T000000Z
SUMMARY:Weekly
DTSTART;TZID=W. Europe Standard Time:20240311T093000
DTEND;TZID=W. Europe Standard Time:20240311T100000
RRULE:FREQ=WEEKLY;BYDAY=MO
EXDATE;TZID=W. Europe Standard Time:20240325T093000,20240408T093000
END:VEVENT
BEGIN:VEVENT
UID:weekly@interop
DTSTAMP:20240101T000000Z
RECURRENCE-ID;TZID=W. Europe Standard Time:20240401T093000
SUMMARY:Weekly (moved)
DTSTART;TZID=W. Europe Standard Time:20240402T140000
DTEND;TZID=W. Europe Standard Time:20240402T150000
END:VEVENT
END:VCALENDAR
"""
single = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//interop//EN
BEGIN:VEVENT
UID:single@interop
DTSTAMP:20240101T000000Z
SUMMARY:Single
DTSTART:20240320T120000Z
DTEND:20240320T130000Z
END:VEVENT
END:VCALENDAR
"""
outside = single.replace("single@interop", "outside@interop").replace("20240320", "20240620")
todo = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//interop//EN
BEGIN:VTODO
UID:todo-due@interop
DTSTAMP:20240101T000000Z
SUMMARY:Due only
DUE:20240322T170000Z
STATUS:NEEDS-ACTION
END:VTODO
END:VCALENDAR
"""
done = todo.replace("todo-due@interop", "todo-done@interop").replace(
    "STATUS:NEEDS-ACTION", "STATUS:COMPLETED\nCOMPLETED:20240301T100000Z")
for body in (weekly, single, outside):
    cal.save_event(body)
for body in (todo, done):
    cal.save_todo(body)

start = datetime.datetime(2024, 3, 18, tzinfo=datetime.timezone.utc)
end = datetime.datetime(2024, 4, 16, tzinfo=datetime.timezone.utc)

def uid(o):
    return str(o.icalendar_component["UID"])

def utc(v):
    return v.dt.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")

plain = sorted(uid(o) for o in cal.search(start=start, end=end, event=True, expand=False))
expanded = []
for o in cal.search(start=start, end=end, event=True, expand=True):
    c = o.icalendar_component
    rid = utc(c["RECURRENCE-ID"]) if "RECURRENCE-ID" in c else "-"
    expanded.append(" ".join([uid(o), rid, utc(c["DTSTART"])]))
todos = sorted(uid(o) for o in cal.search(todo=True))
json.dump({"plain": plain, "expanded": sorted(expanded), "todos": todos}, sys.stdout)
`

// TestInteropCalDAVSearch runs python-caldav's date search (with and
// without expand) and todo search against the live server.
func TestInteropCalDAVSearch(t *testing.T) {
	t.Parallel()
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("python-caldav interop: /usr/bin/python3 is not installed")
	}
	if err := exec.Command(python, "-c", "import caldav").Run(); err != nil {
		t.Skip("python-caldav interop: the python3-caldav package is not installed")
	}
	s := startServer(t)
	script := filepath.Join(t.TempDir(), "search.py")
	if err := os.WriteFile(script, []byte(caldavSearchScript), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, script, s.BaseURL, "alice", testPassword).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("python-caldav: %v\n%s\nserver logs:\n%s", err, stderr, s.Logs)
	}
	var got struct {
		Plain, Expanded, Todos []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	if diff := cmp.Diff([]string{"single@interop", "weekly@interop"}, got.Plain); diff != "" {
		t.Errorf("date search (-want +got):\n%s", diff)
	}
	// Mondays 09:30 Berlin time: CET before 31 March, CEST after; 25 March
	// and 8 April excluded; 1 April moved to Tuesday 2 April 14:00.
	wantExpanded := []string{
		"single@interop - 20240320T120000Z",
		"weekly@interop 20240318T083000Z 20240318T083000Z",
		"weekly@interop 20240401T073000Z 20240402T120000Z",
		"weekly@interop 20240415T073000Z 20240415T073000Z",
	}
	if diff := cmp.Diff(wantExpanded, got.Expanded); diff != "" {
		t.Errorf("expanded date search (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"todo-due@interop"}, got.Todos); diff != "" {
		t.Errorf("todo search (-want +got):\n%s", diff)
	}
	expandedByServer(t, s)
}

// expandedByServer checks with a raw REPORT that the server expanded the
// recurrence itself: python-caldav silently expands on the client when a
// server ignores <C:expand>.
func expandedByServer(t *testing.T, s *testServer) {
	t.Helper()
	body := `<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><C:calendar-data><C:expand start="20240318T000000Z" end="20240416T000000Z"/></C:calendar-data></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="20240318T000000Z" end="20240416T000000Z"/></C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>`
	req, err := http.NewRequest("REPORT", s.BaseURL+"/dav/home/alice/calendar/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("alice", testPassword)
	req.Header.Set("Depth", "1")
	req.Header.Set("Content-Type", "application/xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("REPORT: %s\n%s", resp.Status, out)
	}
	got := regexp.MustCompile(`RECURRENCE-ID:\d{8}T\d{6}Z`).FindAllString(string(out), -1)
	want := []string{"RECURRENCE-ID:20240318T083000Z", "RECURRENCE-ID:20240401T073000Z", "RECURRENCE-ID:20240415T073000Z"}
	if diff := cmp.Diff(want, got); diff != "" || strings.Contains(string(out), "RRULE") {
		t.Errorf("server-side expand (-want +got):\n%s\n%s", diff, out)
	}
}

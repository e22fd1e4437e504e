package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/almanac/almanac/engine"
)

const (
	vdirCalendar = "/dav/home/alice/calendar/"
	vdirContacts = "/dav/home/alice/contacts/"
)

func vdirEvent(uid, summary string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//almanac interop//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260401T090000Z\r\nDTEND:20260401T100000Z\r\nSUMMARY:" + summary +
		"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
}

func vdirCard(uid, name string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + name + "\r\nN:" + name + ";;;;\r\nEND:VCARD\r\n"
}

// TestInteropVdirsyncer syncs alice's calendar and address book two ways
// with local vdirs, changes both sides between syncs (edits, additions, a
// conflict resolved for the local side, deletions on each side), and checks
// that afterwards both sides hold the same items with the same content.
func TestInteropVdirsyncer(t *testing.T) {
	t.Parallel()
	bin := requireBinary(t, "vdirsyncer", "vdirsyncer")
	srv := startServer(t)
	dir := t.TempDir()
	for _, d := range []string{"calendar", "contacts", "status", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "config")
	tmpl := template.Must(template.ParseFiles("testdata/vdirsyncer.conf.tmpl"))
	f, err := os.Create(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := tmpl.Execute(f, map[string]string{"Dir": dir, "BaseURL": srv.BaseURL, "Password": testPassword}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	env := []string{"HOME=" + filepath.Join(dir, "home"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "home"), "LC_ALL=C.UTF-8"}
	vdir := func(args ...string) string {
		return runClient(t, srv, env, bin, append([]string{"-c", conf}, args...)...)
	}
	put := func(path, name, body string) {
		t.Helper()
		ct := "text/calendar"
		if strings.HasSuffix(name, ".vcf") {
			ct = "text/vcard"
		}
		resp, out := srv.Do(t, "PUT", path+name, "alice", body, "Content-Type", ct)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("PUT %s%s: %d %s", path, name, resp.StatusCode, out)
		}
	}
	del := func(path, name string) {
		t.Helper()
		resp, out := srv.Do(t, "DELETE", path+name, "alice", "")
		if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE %s%s: %d %s", path, name, resp.StatusCode, out)
		}
	}
	local := func(sub, name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, sub, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// Round 1: items on both sides, nothing synced yet.
	put(vdirCalendar, "server-a.ics", vdirEvent("a@interop", "A from server"))
	put(vdirCalendar, "server-d.ics", vdirEvent("d@interop", "D to be deleted locally"))
	put(vdirContacts, "server-x.vcf", vdirCard("x@interop", "Xavier"))
	local("calendar", "b.ics", vdirEvent("b@interop", "B from laptop"))
	local("contacts", "y.vcf", vdirCard("y@interop", "Yvonne"))
	vdir("discover")
	vdir("sync")
	checkVdirAgree(t, srv, dir, []string{"a@interop", "b@interop", "d@interop"}, []string{"x@interop", "y@interop"})

	// Round 2: changes on both sides.
	calFiles := vdirFilesByUID(t, filepath.Join(dir, "calendar"))
	cardFiles := vdirFilesByUID(t, filepath.Join(dir, "contacts"))
	put(vdirCalendar, "server-a.ics", vdirEvent("a@interop", "A edited on server"))
	local("calendar", "c.ics", vdirEvent("c@interop", "C new on laptop"))
	if err := os.Remove(calFiles["d@interop"]); err != nil { // deleted locally
		t.Fatal(err)
	}
	del(vdirContacts, "server-x.vcf") // deleted on the server
	local("contacts", filepath.Base(cardFiles["y@interop"]), vdirCard("y@interop", "Yvonne Laptop"))
	// A conflict: B edited on both sides; the local side wins.
	bName := serverNameByUID(t, srv, vdirCalendar, "b@interop")
	put(vdirCalendar, bName, vdirEvent("b@interop", "B edited on server"))
	local("calendar", filepath.Base(calFiles["b@interop"]), vdirEvent("b@interop", "B edited on laptop"))
	vdir("sync")
	checkVdirAgree(t, srv, dir, []string{"a@interop", "b@interop", "c@interop"}, []string{"y@interop"})

	got := vdirContents(t, filepath.Join(dir, "calendar"))
	for uid, want := range map[string]string{"a@interop": "A edited on server", "b@interop": "B edited on laptop", "c@interop": "C new on laptop"} {
		if !strings.Contains(got[uid], "SUMMARY:"+want+"\n") {
			t.Errorf("%s: local copy lacks SUMMARY %q:\n%s", uid, want, got[uid])
		}
	}
	if cards := vdirContents(t, filepath.Join(dir, "contacts")); !strings.Contains(cards["y@interop"], "FN:Yvonne Laptop\n") {
		t.Errorf("contact edit lost:\n%s", cards["y@interop"])
	}
}

var uidLine = regexp.MustCompile(`(?m)^UID:(.*?)\r?$`)

// normalize makes bodies comparable across the sides: line endings only.
func normalize(body string) string { return strings.ReplaceAll(body, "\r\n", "\n") }

// vdirFilesByUID maps each UID of a vdir to its file.
func vdirFilesByUID(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		if f.IsDir() || strings.HasPrefix(f.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, f.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m := uidLine.FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("%s has no UID:\n%s", p, b)
		}
		out[m[1]] = p
	}
	return out
}

// vdirContents maps each UID of a vdir to its normalized content.
func vdirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for uid, p := range vdirFilesByUID(t, dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[uid] = normalize(string(b))
	}
	return out
}

// serverContents maps each UID of a collection to its normalized body.
func serverContents(t *testing.T, srv *testServer, path string) map[string]string {
	t.Helper()
	v, err := srv.DB.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	out := map[string]string{}
	for o, err := range v.Objects(path, engine.ListOptions{Bodies: true}) {
		if err != nil {
			t.Fatal(err)
		}
		out[o.UID] = normalize(string(o.Body))
	}
	return out
}

func serverNameByUID(t *testing.T, srv *testServer, path, uid string) string {
	t.Helper()
	v, err := srv.DB.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for o, err := range v.Objects(path, engine.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if o.UID == uid {
			return o.Name
		}
	}
	t.Fatalf("no object with UID %s in %s", uid, path)
	return ""
}

// checkVdirAgree asserts that both sides hold exactly the given UIDs with
// identical content.
func checkVdirAgree(t *testing.T, srv *testServer, dir string, calUIDs, cardUIDs []string) {
	t.Helper()
	for _, c := range []struct {
		sub, path string
		uids      []string
	}{{"calendar", vdirCalendar, calUIDs}, {"contacts", vdirContacts, cardUIDs}} {
		loc, rem := vdirContents(t, filepath.Join(dir, c.sub)), serverContents(t, srv, c.path)
		if diff := cmp.Diff(rem, loc); diff != "" {
			t.Errorf("%s: server and local differ (-server +local):\n%s", c.sub, diff)
		}
		var got []string
		for uid := range rem {
			got = append(got, uid)
		}
		if diff := cmp.Diff(c.uids, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("%s: server UIDs (-want +got):\n%s", c.sub, diff)
		}
	}
}

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/google/go-cmp/cmp"
)

// migrateVdirsyncerConf is a vdirsyncer configuration that syncs every
// calendar and address book of each user (found by discovery under URL)
// with local vdirs.
var migrateVdirsyncerConf = template.Must(template.New("conf").Parse(`[general]
status_path = "{{.Dir}}/status/"
{{range $u := .Users}}{{range $.Kinds}}
[pair {{$u}}_{{.Name}}]
a = "{{$u}}_{{.Name}}_local"
b = "{{$u}}_{{.Name}}_remote"
collections = ["from a", "from b"]

[storage {{$u}}_{{.Name}}_local]
type = "filesystem"
path = "{{$.Dir}}/{{$u}}/{{.Folder}}/"
fileext = "{{.Ext}}"

[storage {{$u}}_{{.Name}}_remote]
type = "{{.Type}}"
url = "{{$.URL}}"
username = "{{$u}}"
password = "{{$.Password}}"
{{end}}{{end}}`))

// migrateKinds are the storages of migrateVdirsyncerConf, per user.
var migrateKinds = []struct{ Name, Type, Folder, Ext string }{
	{"cal", "caldav", "calendars", ".ics"},
	{"card", "carddav", "contacts", ".vcf"},
}

// TestMigrateRadicaleVdirsyncer is the migration an operator makes: two
// users' calendars and address books in Radicale (filled by PUTs with the
// names clients choose, one without an extension), synced by vdirsyncer
// to local vdirs; Radicale stops, `almanac import --users` brings its
// whole root into a running Almanac through the admin API (twice: the
// second run writes nothing), and vdirsyncer is pointed at Almanac with
// its old status. Its next sync must change nothing: no upload, no
// update, no deletion on either side, the local vdirs unchanged to the
// byte and no event on the server. Every href a client knew answers on
// Almanac with the same bytes under the same name. A later edit on
// Almanac then syncs down as one update, so the quiet sync is not a
// broken one. Last, alice's home exported with --radicale is served by a
// fresh Radicale.
func TestMigrateRadicaleVdirsyncer(t *testing.T) {
	t.Parallel() // own data directory, free ports, child processes: it mostly waits (README, Test time)
	bin := requireBinary(t, "vdirsyncer", "vdirsyncer")
	rad := startRadicale(t)
	srv := startServer(t)
	users := []string{"alice", "bob"}
	mkcol := `<?xml version="1.0" encoding="utf-8"?><mkcol xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" ` +
		`xmlns:CR="urn:ietf:params:xml:ns:carddav" xmlns:I="http://apple.com/ns/ical/"><set><prop>%s</prop></set></mkcol>`
	calendar := `<resourcetype><collection/><C:calendar/></resourcetype><displayname>%s</displayname><I:calendar-color>#3366ccff</I:calendar-color>`
	book := `<resourcetype><collection/><CR:addressbook/></resourcetype><displayname>%s</displayname>`
	mk := func(user, path, props string) {
		t.Helper()
		if resp, body := radicaleRequest(t, rad, user, "MKCOL", path, fmt.Sprintf(mkcol, props)); resp.StatusCode != http.StatusCreated {
			t.Fatalf("radicale MKCOL %s: %s\n%s", path, resp.Status, body)
		}
	}
	// Radicale's objects, by path: the names DAVx5, Thunderbird or iOS
	// give them, not their UIDs.
	objects := map[string]string{}
	for _, u := range users {
		mk(u, "/"+u+"/work/", fmt.Sprintf(calendar, u+"'s work"))
		mk(u, "/"+u+"/contacts/", fmt.Sprintf(book, u+"'s contacts"))
		for path, body := range map[string]string{
			"/" + u + "/work/meeting-href.ics":                         cliEvent("meeting@"+u, "Meeting of "+u),
			"/" + u + "/work/2C1A3F0E-9B4D-4E8A-A1B2-C3D4E5F60718.ics": cliEvent("ios@"+u, "From an iPhone"),
			"/" + u + "/work/no-extension":                             vdirEvent("noext@"+u, "Named without .ics"),
			"/" + u + "/contacts/ann-card.vcf":                         cliCard("ann@"+u, "Ann"),
			"/" + u + "/contacts/b3e1.vcf":                             cliCard("ben@"+u, "Ben"),
		} {
			if resp, out := radicaleRequest(t, rad, u, http.MethodPut, path, body); resp.StatusCode != http.StatusCreated {
				t.Fatalf("radicale PUT %s: %s\n%s", path, resp.Status, out)
			}
			objects[path] = body
		}
	}

	dir := t.TempDir()
	for _, u := range users {
		// The local collections exist, so that discovery has nothing to
		// create on either side (it would ask on a terminal).
		for _, sub := range []string{"calendars/work", "contacts/contacts"} {
			if err := os.MkdirAll(filepath.Join(dir, u, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One item that only the laptop has: vdirsyncer uploads it to Radicale
	// under a name of its own.
	writeFile(t, filepath.Join(dir, "alice", "calendars", "work"), "laptop.ics", vdirEvent("laptop@alice", "Made offline"))
	conf := filepath.Join(dir, "config")
	writeConf := func(url string) {
		t.Helper()
		f, err := os.Create(conf)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		err = migrateVdirsyncerConf.Execute(f, map[string]any{"Dir": dir, "URL": url, "Password": testPassword, "Users": users, "Kinds": migrateKinds})
		if err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(dir, "home")
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "LC_ALL=C.UTF-8"}
	vdir := func(args ...string) string {
		return runClient(t, srv, env, bin, append([]string{"-c", conf}, args...)...)
	}

	writeConf(rad.URL + "/")
	vdir("discover")
	t.Logf("vdirsyncer sync against Radicale:\n%s", vdir("sync"))
	localTree := func() map[string]string {
		out := map[string]string{}
		for _, u := range users {
			for p, body := range readTree(t, filepath.Join(dir, u)) {
				out[u+"/"+p] = body
			}
		}
		return out
	}
	local := localTree()
	for _, u := range users {
		if n := countPrefix(local, u+"/calendars/work/"); n < 3 {
			t.Fatalf("%s's calendar after the first sync has %d items:\n%v", u, n, sortedKeys(local))
		}
	}
	// What Radicale holds now, uploads included, by path.
	radFiles := readTree(t, filepath.Join(rad.Storage, "collection-root"))
	radObjects := map[string]string{}
	for p, body := range radFiles {
		if !strings.Contains(p, "/.") && !strings.HasPrefix(filepath.Base(p), ".") {
			radObjects["/"+p] = body
		}
	}
	for path := range objects { // Radicale may re-serialize: its files are the reference
		if radObjects[path] == "" {
			t.Fatalf("Radicale's storage lacks %s (has %v)", path, sortedKeys(radObjects))
		}
	}
	if len(radObjects) != len(objects)+1 {
		t.Fatalf("Radicale holds %d objects, want %d and vdirsyncer's upload: %v", len(radObjects), len(objects), sortedKeys(radObjects))
	}
	rad.Stop()

	out := mustAuditCLI(t, "import", "--users", rad.Storage, "--server", srv.BaseURL, "--user", "admin")
	if want := fmt.Sprintf("imported %d object(s), 0 unchanged, 0 error(s)\n", len(radObjects)); out != want {
		t.Fatalf("import --users: %q, want %q", out, want)
	}
	// Every href a client knew answers on Almanac with Radicale's bytes.
	for path, body := range radObjects {
		resp, got := srv.Do(t, http.MethodGet, "/dav/home"+path, strings.SplitN(path, "/", 3)[1], "")
		if resp.StatusCode != http.StatusOK || got != body {
			t.Errorf("GET /dav/home%s: %s\n%q\nwant Radicale's\n%q", path, resp.Status, got, body)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// Run again (an operator unsure the first run finished): nothing new.
	head := srv.DB.Head()
	out = mustAuditCLI(t, "import", "--users", rad.Storage, "--server", srv.BaseURL, "--user", "admin")
	if want := fmt.Sprintf("imported 0 object(s), %d unchanged, 0 error(s)\n", len(radObjects)); out != want || srv.DB.Head() != head {
		t.Fatalf("second import --users: %q, want %q; %d new event(s)", out, want, srv.DB.Head()-head)
	}

	writeConf(srv.BaseURL + "/")
	vdir("discover")
	syncOut := vdir("sync")
	t.Logf("vdirsyncer sync against Almanac:\n%s", syncOut)
	for _, action := range []string{"Copying", "Deleting", "conflict resolution"} {
		if strings.Contains(syncOut, action) {
			t.Errorf("vdirsyncer against Almanac did %q:\n%s", action, syncOut)
		}
	}
	if diff := cmp.Diff(local, localTree()); diff != "" {
		t.Errorf("the local vdirs changed (-before +after):\n%s", diff)
	}
	if h := srv.DB.Head(); h != head {
		t.Errorf("the sync wrote %d event(s) on Almanac", h-head)
	}

	// The status is live: an edit on Almanac comes down as one update.
	edited := cliEvent("meeting@bob", "Meeting moved")
	cliPut(t, srv, "bob", "/dav/home/bob/work/meeting-href.ics", edited)
	syncOut = vdir("sync")
	if n := strings.Count(syncOut, "Copying (updating)"); n != 1 || strings.Contains(syncOut, "uploading") || strings.Contains(syncOut, "Deleting") {
		t.Errorf("sync after one edit on Almanac: %d update(s), want 1:\n%s", n, syncOut)
	}
	if got := vdirContents(t, filepath.Join(dir, "bob", "calendars", "work"))["meeting@bob"]; got != normalize(edited) {
		t.Errorf("bob's local copy after the edit:\n%s", got)
	}

	// The way back: alice's home exported for Radicale is what a fresh
	// Radicale serves, object for object and byte for byte, with the
	// collections' names.
	back := startRadicale(t)
	out = mustAuditCLI(t, "export", "/dav/home/alice/", "--radicale", filepath.Join(back.Storage, "collection-root", "alice"),
		"--server", srv.BaseURL, "--user", "admin")
	if !strings.HasPrefix(out, "exported 2 collection(s), ") {
		t.Fatalf("export --radicale: %q", out)
	}
	for path, body := range radObjects {
		if !strings.HasPrefix(path, "/alice/") {
			continue
		}
		resp, got := radicaleRequest(t, back, "alice", http.MethodGet, path, "")
		if resp.StatusCode != http.StatusOK || got != body {
			t.Errorf("Radicale after export: GET %s: %s\n%q\nwant\n%q", path, resp.Status, got, body)
		}
	}
	resp, got := radicaleRequest(t, back, "alice", "PROPFIND", "/alice/work/", `<propfind xmlns="DAV:"><prop><displayname/><resourcetype/></prop></propfind>`)
	if resp.StatusCode != http.StatusMultiStatus || !strings.Contains(got, "alice's work</") || !strings.Contains(got, "calendar") {
		t.Errorf("Radicale after export: PROPFIND /alice/work/: %s\n%s", resp.Status, got)
	}
}

// radicaleRequest sends a request to Radicale as user (Depth 0 for a
// PROPFIND, the content type of a PUT from its body) and returns the
// answer and its body.
func radicaleRequest(t *testing.T, r *radicale, user, method, path, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, r.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, testPassword)
	switch {
	case method == "PROPFIND":
		req.Header.Set("Depth", "0")
	case strings.HasPrefix(body, "BEGIN:VCARD"):
		req.Header.Set("Content-Type", "text/vcard")
	case strings.HasPrefix(body, "BEGIN:VCALENDAR"):
		req.Header.Set("Content-Type", "text/calendar")
	case body != "":
		req.Header.Set("Content-Type", "application/xml")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// countPrefix counts the keys of m that start with prefix.
func countPrefix(m map[string]string, prefix string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
)

// readTree maps every file under dir (relative, slash-separated) to its
// content.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportVdirKeepsNames imports a vdir (vdirsyncer's layout: one file
// per item, displayname and color files) into a data directory: every
// item under its file name, byte for byte; a file whose name the engine
// refuses (not UTF-8) is reported by name and the others go in, and the
// command fails. Importing again writes only what changed: an edited file
// replaces its object, the others keep their ETags and no event is
// appended for them.
func TestImportVdirKeepsNames(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{
		"meeting-href.ics":          cliEvent("m@vdir", "Meeting"),
		"odd name, with spaces.ics": cliEvent("o@vdir", "Odd"),
		"bad-\xff.ics":              cliEvent("b@vdir", "Bad name"),
	}
	for name, body := range files {
		writeFile(t, src, name, body)
	}
	writeFile(t, src, "displayname", "Work\n")
	writeFile(t, src, "color", "#00ff00\n")
	data := t.TempDir()
	const coll = "/dav/home/dora/work/"
	out, stderr, err := runAuditCLI(t, "import", coll, src, "--data", data)
	if err == nil || !strings.HasPrefix(out, "imported 2 object(s), 0 unchanged, 1 error(s)\n") ||
		!strings.Contains(stderr, "error: "+coll+"bad-\xff.ics: ") || !strings.Contains(stderr, "invalid") {
		t.Fatalf("import: %v\nstdout %q\nstderr %q", err, out, stderr)
	}
	etags := map[string]string{}
	var head engine.Seq
	withDB(t, data, func(db *engine.DB) {
		c, err := db.Collection(coll)
		if err != nil || c.Kind != engine.KindCalendar || c.Props.DisplayName != "Work" || c.Props.Color != "#00ff00" {
			t.Fatalf("%s: %+v %v", coll, c, err)
		}
		got := objectBodies(t, db, coll)
		want := map[string]string{"meeting-href.ics": files["meeting-href.ics"], "odd name, with spaces.ics": files["odd name, with spaces.ics"]}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("objects (-want +got):\n%s", diff)
		}
		for name := range want {
			o, err := db.Object(coll, name, false)
			if err != nil {
				t.Fatal(err)
			}
			etags[name] = o.ETag
		}
		head = db.Head()
	})

	os.Remove(filepath.Join(src, "bad-\xff.ics"))
	edited := cliEvent("m@vdir", "Meeting moved")
	writeFile(t, src, "meeting-href.ics", edited)
	if out := mustAuditCLI(t, "import", coll, src, "--data", data); !strings.HasPrefix(out, "imported 1 object(s), 1 unchanged, 0 error(s)\n") {
		t.Fatalf("second import: %q", out)
	}
	withDB(t, data, func(db *engine.DB) {
		if db.Head() != head+1 {
			t.Errorf("second import appended %d events, want 1 (the edit)", db.Head()-head)
		}
		m, err := db.Object(coll, "meeting-href.ics", true)
		if err != nil || string(m.Body) != edited || m.ETag == etags["meeting-href.ics"] {
			t.Errorf("edited object: %v, ETag %s (was %s)\n%s", err, m.ETag, etags["meeting-href.ics"], m.Body)
		}
		o, err := db.Object(coll, "odd name, with spaces.ics", false)
		if err != nil || o.ETag != etags["odd name, with spaces.ics"] {
			t.Errorf("unchanged object: %v, ETag %s, was %s", err, o.ETag, etags["odd name, with spaces.ics"])
		}
	})
}

// TestExportVdir exports alice's whole home through the admin API as a
// vdir tree: one folder per collection, each object in a file named as
// its href holding the bytes the client PUT, displayname and color files,
// and a .Radicale.props with the kind and properties; one collection goes
// into the folder itself. Importing the tree
// into an empty data directory and exporting it again gives the same
// tree; exporting into a non-empty directory is refused.
func TestExportVdir(t *testing.T) {
	srv := startServer(t)
	srv.Do(t, "PROPFIND", "/dav/home/alice/", "alice", "", "Depth", "0") // alice's home with its default collections
	event := cliEvent("e@exp", "Exported")
	card := cliCard("k@exp", "Kay")
	cliPut(t, srv, "alice", cliCal+"7c1e-client-name.ics", event)
	cliPut(t, srv, "alice", cliCards+"kay.vcf", card)
	resp, body := srv.Do(t, "PROPPATCH", cliCal, "alice", `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" `+
		`xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>`+
		`<I:calendar-color>#123456</I:calendar-color><C:calendar-description>Mine</C:calendar-description></D:prop></D:set></D:propertyupdate>`)
	if resp.StatusCode != 207 {
		t.Fatalf("PROPPATCH: %s\n%s", resp.Status, body)
	}

	dir := filepath.Join(t.TempDir(), "alice")
	out := mustAuditCLI(t, "export", "/dav/home/alice/", "--vdir", dir, "--server", srv.BaseURL, "--user", "admin")
	if out != "exported 2 collection(s), 2 object(s) to "+dir+"\n" {
		t.Fatalf("export: %q", out)
	}
	tree := readTree(t, dir)
	var calProps, cardProps map[string]string
	if err := json.Unmarshal([]byte(tree["calendar/.Radicale.props"]), &calProps); err != nil {
		t.Fatalf("calendar/.Radicale.props: %v\n%s", err, tree["calendar/.Radicale.props"])
	}
	if err := json.Unmarshal([]byte(tree["contacts/.Radicale.props"]), &cardProps); err != nil {
		t.Fatalf("contacts/.Radicale.props: %v", err)
	}
	delete(tree, "calendar/.Radicale.props")
	delete(tree, "contacts/.Radicale.props")
	want := map[string]string{
		"calendar/7c1e-client-name.ics": event, "calendar/displayname": "Calendar", "calendar/color": "#123456",
		"contacts/kay.vcf": card, "contacts/displayname": "Contacts",
	}
	if diff := cmp.Diff(want, tree); diff != "" {
		t.Errorf("vdir tree (-want +got):\n%s", diff)
	}
	wantCal := map[string]string{"tag": "VCALENDAR", "D:displayname": "Calendar", "ICAL:calendar-color": "#123456",
		"C:calendar-description": "Mine", "C:supported-calendar-component-set": "VEVENT,VTODO"}
	if diff := cmp.Diff(wantCal, calProps); diff != "" {
		t.Errorf("calendar/.Radicale.props (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"tag": "VADDRESSBOOK", "D:displayname": "Contacts"}, cardProps); diff != "" {
		t.Errorf("contacts/.Radicale.props (-want +got):\n%s", diff)
	}

	if _, _, err := runAuditCLI(t, "export", "/dav/home/alice/", "--vdir", dir, "--server", srv.BaseURL, "--user", "admin"); err == nil ||
		!strings.Contains(err.Error(), "not empty") {
		t.Errorf("export into a non-empty directory: %v", err)
	}

	// One collection goes into the folder itself.
	one := filepath.Join(t.TempDir(), "work")
	mustAuditCLI(t, "export", cliCal, "--vdir", one, "--server", srv.BaseURL, "--user", "admin")
	if got := readTree(t, one); got["7c1e-client-name.ics"] != event || got["displayname"] != "Calendar" || len(got) != 4 {
		t.Errorf("export of one collection: %v", sortedKeys(got))
	}

	data := t.TempDir()
	if out := mustAuditCLI(t, "import", "/dav/home/alice/", dir, "--data", data); !strings.HasPrefix(out, "imported 2 object(s), 0 unchanged, 0 error(s)\n") {
		t.Fatalf("import of the tree: %q", out)
	}
	again := filepath.Join(t.TempDir(), "again")
	mustAuditCLI(t, "export", "/dav/home/alice/", "--vdir", again, "--data", data)
	if diff := cmp.Diff(readTree(t, dir), readTree(t, again)); diff != "" {
		t.Errorf("export, import, export: trees differ (-first +second):\n%s", diff)
	}
}

// TestWriteVdirRefusesEscapes: a tree from a server whose collection
// path or object name would leave the export folder ("..", "/") is
// refused, and nothing is written outside it.
func TestWriteVdirRefusesEscapes(t *testing.T) {
	for name, tree := range map[string]audit.ImportRequest{
		"CollectionDotDot": {Collections: []audit.ImportCollection{{Path: "/dav/home/alice/../../x/", Kind: "calendar"}}},
		"CollectionEmpty":  {Collections: []audit.ImportCollection{{Path: "/dav/home/alice//x/", Kind: "calendar"}}},
		"ObjectDotDot":     {Collections: []audit.ImportCollection{{Path: "/dav/home/alice/c/", Kind: "calendar", Items: []audit.Item{{Name: ".."}}}}},
		"ObjectSlash":      {Collections: []audit.ImportCollection{{Path: "/dav/home/alice/c/", Kind: "calendar", Items: []audit.Item{{Name: "../../x.ics"}}}}},
		"NotBelow":         {Collections: []audit.ImportCollection{{Path: "/dav/home/bob/c/", Kind: "calendar"}}},
	} {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "a", "b", "out")
			if _, err := writeVdir(dir, "/dav/home/alice/", &tree, true); err == nil {
				t.Fatal("written")
			}
			if got := readTree(t, base); len(got) != 0 {
				t.Errorf("files written: %v", sortedKeys(got))
			}
		})
	}
}

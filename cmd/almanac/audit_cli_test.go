package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/testport"
)

const (
	cliCal   = "/dav/home/alice/calendar/"
	cliCards = "/dav/home/alice/contacts/"
)

// cliEvent is a calendar object with a VTIMEZONE and a folded DESCRIPTION,
// so byte-for-byte checks would catch any re-serialization.
func cliEvent(uid, summary string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//almanac cli test//EN\r\n" +
		"BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\n" +
		"TZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n" +
		"BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260105T100000\r\n" +
		"SUMMARY:" + summary + "\r\nDESCRIPTION:a long line that a client folded at seventy-five octets\\, as RFC 5545 \r\n" +
		" says it should\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
}

func cliCard(uid, name string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + name + "\r\nN:" + name + ";;;;\r\nEMAIL:" +
		strings.ToLower(name) + "@example.com\r\nEND:VCARD\r\n"
}

// cliPut writes an object through DAV as user and fails on anything but 2xx.
func cliPut(t *testing.T, srv *testServer, user, path, body string) {
	t.Helper()
	ct := "text/calendar"
	if strings.HasSuffix(path, ".vcf") {
		ct = "text/vcard"
	}
	if resp, out := srv.Do(t, http.MethodPut, path, user, body, "Content-Type", ct); resp.StatusCode/100 != 2 {
		t.Fatalf("PUT %s: %s %s", path, resp.Status, out)
	}
}

func cliDelete(t *testing.T, srv *testServer, user, path string) {
	t.Helper()
	if resp, out := srv.Do(t, http.MethodDelete, path, user, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE %s: %s %s", path, resp.Status, out)
	}
}

// withDB opens the engine of a stopped server's data directory for
// assertions and closes it again.
func withDB(t *testing.T, dataDir string, fn func(db *engine.DB)) {
	t.Helper()
	db, err := openDB(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fn(db)
}

func historyJSON(t *testing.T, args ...string) []audit.Change {
	t.Helper()
	out := mustAuditCLI(t, "history", append(args, "--json")...)
	var changes []audit.Change
	if err := json.Unmarshal([]byte(out), &changes); err != nil {
		t.Fatalf("history --json: %v\n%s", err, out)
	}
	return changes
}

func changeOps(changes []audit.Change) string {
	var s []string
	for _, c := range changes {
		s = append(s, c.Op+" "+c.Path+c.Object)
	}
	return strings.Join(s, "\n")
}

// auditFixture is alice's data as TestAuditCLIDataDir writes it.
type auditFixture struct {
	srv                  *testServer
	a1, a2, bPut, cPut   engine.Seq // events that wrote a.ics v1 and v2, b.ics, c.ics
	beforeDamage         engine.Seq // after a.ics v1 and b.ics
	bodyA1, bodyA2, body string
}

func newAuditFixture(t *testing.T) *auditFixture {
	f := &auditFixture{srv: startServer(t)}
	srv := f.srv
	f.bodyA1, f.bodyA2 = cliEvent("a@cli", "One"), cliEvent("a@cli", "Two")
	cliPut(t, srv, "alice", cliCal+"a.ics", f.bodyA1)
	f.a1 = srv.DB.Head()
	cliPut(t, srv, "alice", cliCal+"b.ics", cliEvent("b@cli", "Bee"))
	f.bPut = srv.DB.Head()
	f.beforeDamage = srv.DB.Head()
	cliPut(t, srv, "alice", cliCal+"a.ics", f.bodyA2)
	f.a2 = srv.DB.Head()
	cliDelete(t, srv, "alice", cliCal+"b.ics")
	f.body = cliEvent("c@cli", "PURGE-MARKER-7f3a9c")
	cliPut(t, srv, "alice", cliCal+"c.ics", f.body)
	f.cPut = srv.DB.Head()
	cliPut(t, srv, "alice", cliCards+"k.vcf", cliCard("k@cli", "Kay"))
	return f
}

// TestAuditCLIDataDir runs every audit command with --data on a stopped
// server's data directory, in the order an operator might: look at the
// history, restore, undelete, export, then retention, purge, rebuild and
// verify. Subtests build on each other.
func TestAuditCLIDataDir(t *testing.T) {
	t.Parallel() // its own data directory (and servers on free ports): it shares nothing with other tests
	f := newAuditFixture(t)
	f.srv.Stop(t)
	dir := f.srv.DataDir
	data := []string{"--data", dir}
	a := cliCal + "a.ics"

	t.Run("HistoryObject", func(t *testing.T) {
		out := mustAuditCLI(t, "history", append([]string{a}, data...)...)
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "SEQ") || !strings.Contains(lines[0], "ETAG BEFORE") {
			t.Fatalf("history table:\n%s", out)
		}
		for i, seq := range []engine.Seq{f.a1, f.a2} {
			if fields := strings.Fields(lines[i+1]); fields[0] != fmt.Sprint(seq) || fields[2] != "alice" || !strings.Contains(lines[i+1], " put ") {
				t.Errorf("row %d = %q, want seq %d, actor alice, put", i+1, lines[i+1], seq)
			}
		}
		h := historyJSON(t, append([]string{a}, data...)...)
		if len(h) != 2 || h[0].Seq != uint64(f.a1) || h[1].Seq != uint64(f.a2) || h[0].Op != "put" || h[1].Op != "put" {
			t.Fatalf("history --json:\n%s", changeOps(h))
		}
		if h[0].PreviousETag != "" || h[1].PreviousETag != h[0].ETag || h[1].ETag == h[0].ETag || h[0].Actor != "alice" {
			t.Errorf("ETag chain or actor wrong: %+v", h)
		}
		if !strings.Contains(out, h[0].ETag) {
			t.Errorf("table lacks the ETag %s:\n%s", h[0].ETag, out)
		}
	})
	t.Run("HistoryCollection", func(t *testing.T) {
		h := historyJSON(t, append([]string{cliCal}, data...)...)
		got := changeOps(h)
		for _, want := range []string{"put " + cliCal + "b.ics", "delete " + cliCal + "b.ics", "put " + cliCal + "c.ics"} {
			if !strings.Contains(got, want) {
				t.Errorf("collection history lacks %q:\n%s", want, got)
			}
		}
		if strings.Contains(got, "k.vcf") {
			t.Errorf("collection history shows the address book:\n%s", got)
		}
		// Without the final slash the path names the collection too.
		if h2 := historyJSON(t, append([]string{strings.TrimSuffix(cliCal, "/")}, data...)...); len(h2) != len(h) {
			t.Errorf("history of %s has %d changes, with the slash %d", strings.TrimSuffix(cliCal, "/"), len(h2), len(h))
		}
	})
	t.Run("HistoryHome", func(t *testing.T) {
		got := changeOps(historyJSON(t, append([]string{"/dav/home/alice/"}, data...)...))
		for _, want := range []string{"collection-created " + cliCal, "put " + cliCards + "k.vcf", "delete " + cliCal + "b.ics"} {
			if !strings.Contains(got, want) {
				t.Errorf("home history lacks %q:\n%s", want, got)
			}
		}
	})
	t.Run("HistorySince", func(t *testing.T) {
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if h := historyJSON(t, append([]string{cliCal, "--since", future}, data...)...); len(h) != 0 {
			t.Errorf("--since an hour ahead: %s", changeOps(h))
		}
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		if h := historyJSON(t, append([]string{a, "--since", past}, data...)...); len(h) != 2 {
			t.Errorf("--since an hour ago: %s", changeOps(h))
		}
	})
	t.Run("Show", func(t *testing.T) {
		if got := mustAuditCLI(t, "history", append([]string{a, "--show", fmt.Sprint(f.a1)}, data...)...); got != f.bodyA1 {
			t.Errorf("--show %d:\n%q\nwant\n%q", f.a1, got, f.bodyA1)
		}
	})
	t.Run("Diff", func(t *testing.T) {
		// With one SEQ the other side is the next version of the same
		// object, also when PATH is its collection and another object
		// (b.ics) changed in between.
		for _, c := range []struct{ path, spec string }{
			{a, fmt.Sprint(f.a1)}, {a, fmt.Sprintf("%d..%d", f.a1, f.a2)}, {cliCal, fmt.Sprint(f.a1)}, {"/dav/home/alice/", fmt.Sprint(f.a1)},
		} {
			spec := c.spec
			out := mustAuditCLI(t, "history", append([]string{c.path, "--diff", spec}, data...)...)
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			want := []string{"- VEVENT uid=a@cli SUMMARY:One", "+ VEVENT uid=a@cli SUMMARY:Two"}
			if len(lines) != 4 || !strings.HasPrefix(lines[0], fmt.Sprintf("--- %d ", f.a1)) ||
				!strings.HasPrefix(lines[1], fmt.Sprintf("+++ %d ", f.a2)) || fmt.Sprint(lines[2:]) != fmt.Sprint(want) {
				t.Errorf("history %s --diff %s:\n%s", c.path, spec, out)
			}
		}
	})
	t.Run("ErrDiffLastVersion", func(t *testing.T) {
		_, _, err := runAuditCLI(t, "history", append([]string{cliCal, "--diff", fmt.Sprint(f.a2)}, data...)...)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("no version of %sa.ics after %d", cliCal, f.a2)) {
			t.Errorf("--diff of the last version: %v", err)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		for _, c := range [][]string{
			{"history"},
			{"history", a, "--diff", "x"},
			{"history", a, "--since", "yesterday"},
			{"restore", cliCal},
			{"compact"},
			{"verify", "extra"},
			{"import", cliCal},
		} {
			if _, _, err := runAuditCLI(t, c[0], append(c[1:], data...)...); !errors.Is(err, errUsage) {
				t.Errorf("%v: err = %v, want errUsage", c, err)
			}
		}
	})
	t.Run("RestoreDryRun", func(t *testing.T) {
		var head engine.Seq
		withDB(t, dir, func(db *engine.DB) { head = db.Head() })
		out := mustAuditCLI(t, "restore", append([]string{cliCal, "--as-of", fmt.Sprint(f.beforeDamage), "--dry-run"}, data...)...)
		want := fmt.Sprintf("would restore the state after seq %d: 3 change(s)\n"+
			"  delete %sc.ics\n  put %sa.ics (from seq %d)\n  put %sb.ics (from seq %d)\n",
			f.beforeDamage, cliCal, cliCal, f.a1, cliCal, f.bPut)
		if out != want {
			t.Errorf("dry run:\n%s\nwant\n%s", out, want)
		}
		withDB(t, dir, func(db *engine.DB) {
			if db.Head() != head {
				t.Errorf("dry run moved the head from %d to %d", head, db.Head())
			}
			if got := objectBodies(t, db, cliCal); len(got) != 2 || got["a.ics"] != f.bodyA2 {
				t.Errorf("dry run changed the calendar: %v", sortedKeys(got))
			}
		})
	})
	t.Run("Restore", func(t *testing.T) {
		out := mustAuditCLI(t, "restore", append([]string{cliCal, "--as-of", fmt.Sprint(f.beforeDamage)}, data...)...)
		if !strings.HasPrefix(out, fmt.Sprintf("restored the state after seq %d: 3 change(s)", f.beforeDamage)) {
			t.Errorf("restore:\n%s", out)
		}
		withDB(t, dir, func(db *engine.DB) {
			got := objectBodies(t, db, cliCal)
			if diff := diffBodies(map[string]string{"a.ics": f.bodyA1, "b.ics": cliEvent("b@cli", "Bee")}, got); diff != "" {
				t.Errorf("after restore:\n%s", diff)
			}
		})
		h := historyJSON(t, append([]string{a}, data...)...)
		last := h[len(h)-1]
		if len(h) != 3 || !strings.HasPrefix(last.Actor, "operator") || last.UserAgent != "almanac-cli" || !strings.HasPrefix(last.Reason, "restore as of") {
			t.Errorf("restore recorded as %+v", last)
		}
	})
	t.Run("Undelete", func(t *testing.T) {
		out := mustAuditCLI(t, "undelete", append([]string{cliCal + "c.ics"}, data...)...)
		if !strings.Contains(out, "put "+cliCal+"c.ics") {
			t.Errorf("undelete:\n%s", out)
		}
		withDB(t, dir, func(db *engine.DB) {
			o, err := db.Object(cliCal, "c.ics", true)
			if err != nil || string(o.Body) != f.body {
				t.Errorf("c.ics after undelete: %v", err)
			}
		})
		if _, _, err := runAuditCLI(t, "undelete", append([]string{cliCal + "never.ics"}, data...)...); err == nil {
			t.Error("undelete of an object never deleted succeeded")
		}
	})
	t.Run("Export", func(t *testing.T) {
		ics := mustAuditCLI(t, "export", append([]string{cliCal}, data...)...)
		if n := strings.Count(ics, "BEGIN:VCALENDAR"); n != 1 || !strings.HasSuffix(ics, "END:VCALENDAR\r\n") {
			t.Errorf("export has %d VCALENDARs:\n%s", n, ics)
		}
		if n, tz := strings.Count(ics, "BEGIN:VEVENT"), strings.Count(ics, "BEGIN:VTIMEZONE"); n != 3 || tz != 1 {
			t.Errorf("export has %d VEVENTs and %d VTIMEZONEs, want 3 and 1:\n%s", n, tz, ics)
		}
		for _, uid := range []string{"a@cli", "b@cli", "c@cli"} {
			if !strings.Contains(ics, "\r\nUID:"+uid+"\r\n") {
				t.Errorf("export lacks %s", uid)
			}
		}
		old := mustAuditCLI(t, "export", append([]string{cliCal, "--as-of", fmt.Sprint(f.a2)}, data...)...)
		if !strings.Contains(old, "SUMMARY:Two") || strings.Contains(old, "SUMMARY:One") || strings.Count(old, "BEGIN:VEVENT") != 2 {
			t.Errorf("export --as-of %d:\n%s", f.a2, old)
		}
		vcf := mustAuditCLI(t, "export", append([]string{cliCards}, data...)...)
		if vcf != cliCard("k@cli", "Kay") {
			t.Errorf("address book export:\n%q", vcf)
		}
		if _, _, err := runAuditCLI(t, "export", append([]string{"/dav/home/alice/nope/"}, data...)...); err == nil {
			t.Error("export of a missing collection succeeded")
		}
		if _, _, err := runAuditCLI(t, "export", append([]string{"/dav/home/alice/"}, data...)...); err == nil {
			t.Error("export of a home succeeded")
		}
	})
	t.Run("Compact", func(t *testing.T) {
		out := mustAuditCLI(t, "compact", append([]string{"--keep", "0s"}, data...)...)
		m := regexp.MustCompile(`^horizon seq (\d+): (\d+) superseded bodies dropped \(event (\d+)\)\n$`).FindStringSubmatch(out)
		if m == nil || m[2] == "0" {
			t.Fatalf("compact: %q", out)
		}
		// a.ics v2 was superseded by the restore: its body is gone, the
		// record of who wrote it stays.
		if _, _, err := runAuditCLI(t, "history", append([]string{a, "--show", fmt.Sprint(f.a2)}, data...)...); !errors.Is(err, engine.ErrCompacted) {
			t.Errorf("--show of a compacted version: err = %v, want ErrCompacted", err)
		}
		if h := historyJSON(t, append([]string{a}, data...)...); len(h) != 3 || !h[1].BodyErased || h[1].Actor != "alice" {
			t.Errorf("history after compact: %+v", h)
		}
		// The restore of a moment whose bodies are gone says so.
		if _, _, err := runAuditCLI(t, "restore", append([]string{cliCal, "--as-of", fmt.Sprint(f.a2), "--dry-run"}, data...)...); !errors.Is(err, engine.ErrCompacted) {
			t.Errorf("restore to a compacted moment: err = %v, want ErrCompacted", err)
		}
		if _, _, err := runAuditCLI(t, "compact", append([]string{"--keep", "soon"}, data...)...); err == nil {
			t.Error("--keep soon accepted")
		}
	})
	t.Run("Purge", func(t *testing.T) {
		marker := []byte("PURGE-MARKER-7f3a9c")
		if fileContaining(t, dir, marker) == "" {
			t.Fatal("the marker is in no file before the purge: the check below would prove nothing")
		}
		out := mustAuditCLI(t, "purge", append([]string{cliCal + "c.ics"}, data...)...)
		if !regexp.MustCompile(`^purged /dav/home/alice/calendar/c\.ics: event \d+, [1-9]\d* record\(s\) erased, deleted \[/dav/home/alice/calendar/c\.ics\]\n$`).MatchString(out) {
			t.Errorf("purge: %q", out)
		}
		withDB(t, dir, func(db *engine.DB) {
			if _, err := db.Object(cliCal, "c.ics", false); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("c.ics after purge: err = %v", err)
			}
		})
		if _, _, err := runAuditCLI(t, "history", append([]string{cliCal + "c.ics", "--show", fmt.Sprint(f.cPut)}, data...)...); err == nil {
			t.Error("--show of a purged version succeeded")
		}
		if p := fileContaining(t, dir, marker); p != "" {
			t.Errorf("purged content still in %s", p)
		}
	})
	t.Run("RebuildVerify", func(t *testing.T) {
		var before map[string]string
		withDB(t, dir, func(db *engine.DB) { before = objectBodies(t, db, cliCal) })
		if out := mustAuditCLI(t, "rebuild", data...); out != "ok: projections rebuilt from the log\n" {
			t.Errorf("rebuild: %q", out)
		}
		if out := mustAuditCLI(t, "verify", data...); out != "ok: projections match the log\n" {
			t.Errorf("verify: %q", out)
		}
		withDB(t, dir, func(db *engine.DB) {
			if diff := diffBodies(before, objectBodies(t, db, cliCal)); diff != "" {
				t.Errorf("rebuild changed the calendar:\n%s", diff)
			}
		})
	})
}

// fileContaining returns the first file under dir that holds b, or "".
func fileContaining(t *testing.T, dir string, b []byte) string {
	t.Helper()
	var found string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || found != "" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(data, b) {
			found = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestAuditCLIServer runs the commands with --server against a running
// server's admin API, and checks that only admins get in.
func TestAuditCLIServer(t *testing.T) {
	f := newAuditFixture(t)
	srv := f.srv
	server := []string{"--server", srv.BaseURL, "--user", "admin"}
	a := cliCal + "a.ics"

	t.Run("History", func(t *testing.T) {
		h := historyJSON(t, append([]string{a}, server...)...)
		if len(h) != 2 || h[1].Seq != uint64(f.a2) || h[1].PreviousETag != h[0].ETag {
			t.Fatalf("history through the server: %+v", h)
		}
		if got := mustAuditCLI(t, "history", append([]string{a, "--show", fmt.Sprint(f.a1)}, server...)...); got != f.bodyA1 {
			t.Errorf("--show through the server:\n%q", got)
		}
		if out := mustAuditCLI(t, "history", append([]string{a, "--diff", fmt.Sprint(f.a1)}, server...)...); !strings.Contains(out, "+ VEVENT uid=a@cli SUMMARY:Two\n") {
			t.Errorf("--diff through the server:\n%s", out)
		}
	})
	t.Run("RestoreUndelete", func(t *testing.T) {
		head := srv.DB.Head()
		out := mustAuditCLI(t, "restore", append([]string{a, "--as-of", fmt.Sprint(f.a1), "--dry-run"}, server...)...)
		if want := fmt.Sprintf("would restore the state after seq %d: 1 change(s)\n  put %s (from seq %d)\n", f.a1, a, f.a1); out != want {
			t.Errorf("dry run: %q, want %q", out, want)
		}
		if srv.DB.Head() != head {
			t.Fatal("dry run wrote")
		}
		mustAuditCLI(t, "restore", append([]string{a, "--as-of", fmt.Sprint(f.a1)}, server...)...)
		if resp, body := srv.Do(t, http.MethodGet, a, "alice", ""); resp.StatusCode != http.StatusOK || body != f.bodyA1 {
			t.Errorf("GET after restore: %s\n%s", resp.Status, body)
		}
		mustAuditCLI(t, "undelete", append([]string{cliCal + "b.ics"}, server...)...)
		if resp, _ := srv.Do(t, http.MethodGet, cliCal+"b.ics", "alice", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET b.ics after undelete: %s", resp.Status)
		}
		h := historyJSON(t, append([]string{cliCal + "b.ics"}, server...)...)
		if last := h[len(h)-1]; last.Actor != "admin" || last.UserAgent != "almanac-cli" || !strings.HasPrefix(last.Reason, "undelete") {
			t.Errorf("undelete recorded as %+v", last)
		}
	})
	t.Run("ExportCompactPurgeRebuildVerify", func(t *testing.T) {
		if ics := mustAuditCLI(t, "export", append([]string{cliCal}, server...)...); strings.Count(ics, "BEGIN:VEVENT") != 3 {
			t.Errorf("export through the server:\n%s", ics)
		}
		if out := mustAuditCLI(t, "compact", append([]string{"--keep", "90d"}, server...)...); !strings.HasPrefix(out, "horizon seq 0: 0 superseded bodies dropped") {
			t.Errorf("compact --keep 90d on fresh data: %q", out)
		}
		if out := mustAuditCLI(t, "purge", append([]string{cliCards + "k.vcf"}, server...)...); !strings.HasPrefix(out, "purged "+cliCards+"k.vcf: event ") {
			t.Errorf("purge: %q", out)
		}
		if resp, _ := srv.Do(t, http.MethodGet, cliCards+"k.vcf", "alice", ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET after purge: %s", resp.Status)
		}
		mustAuditCLI(t, "rebuild", server...)
		mustAuditCLI(t, "verify", server...)
		if resp, body := srv.Do(t, http.MethodGet, a, "alice", ""); resp.StatusCode != http.StatusOK || body != f.bodyA1 {
			t.Errorf("GET after rebuild: %s", resp.Status)
		}
	})
	t.Run("UndeleteCollection", func(t *testing.T) {
		card := cliCard("u@cli", "Una")
		cliPut(t, srv, "alice", cliCards+"u.vcf", card)
		if resp, body := srv.Do(t, http.MethodDelete, cliCards, "alice", ""); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE %s: %s %s", cliCards, resp.Status, body)
		}
		// Without the final slash, as people type it.
		out := mustAuditCLI(t, "undelete", append([]string{strings.TrimSuffix(cliCards, "/")}, server...)...)
		if !strings.Contains(out, "collection-created "+cliCards) || !strings.Contains(out, "put "+cliCards+"u.vcf") {
			t.Errorf("undelete of a collection:\n%s", out)
		}
		c, err := srv.DB.Collection(cliCards)
		if err != nil || c.Kind != engine.KindAddressBook || c.Props.DisplayName != "Contacts" || c.Count != 1 {
			t.Fatalf("%s after undelete: %+v %v", cliCards, c, err)
		}
		if resp, body := srv.Do(t, http.MethodGet, cliCards+"u.vcf", "alice", ""); resp.StatusCode != http.StatusOK || body != card {
			t.Errorf("GET u.vcf after undelete: %s %q", resp.Status, body)
		}
	})
	t.Run("RestoreHomeRecreatesCollection", func(t *testing.T) {
		const work = "/dav/home/alice/work/"
		if resp, body := srv.Do(t, "MKCALENDAR", work, "alice", ""); resp.StatusCode != http.StatusCreated {
			t.Fatalf("MKCALENDAR: %s %s", resp.Status, body)
		}
		ev := cliEvent("w@cli", "Work")
		cliPut(t, srv, "alice", work+"w.ics", ev)
		moment := srv.DB.Head()
		if resp, body := srv.Do(t, http.MethodDelete, work, "alice", ""); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE %s: %s %s", work, resp.Status, body)
		}
		out := mustAuditCLI(t, "restore", append([]string{"/dav/home/alice/", "--as-of", fmt.Sprint(moment)}, server...)...)
		if !strings.Contains(out, "collection-created "+work) || !strings.Contains(out, "put "+work+"w.ics") {
			t.Errorf("restore of the home:\n%s", out)
		}
		if resp, body := srv.Do(t, http.MethodGet, work+"w.ics", "alice", ""); resp.StatusCode != http.StatusOK || body != ev {
			t.Errorf("GET w.ics after the restore of the home: %s %q", resp.Status, body)
		}
	})
	t.Run("ErrNotAdmin", func(t *testing.T) {
		_, _, err := runAuditCLI(t, "history", a, "--server", srv.BaseURL, "--user", "alice")
		if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "not an admin") {
			t.Errorf("alice through the admin API: %v", err)
		}
		head := srv.DB.Head()
		if _, _, err := runAuditCLI(t, "restore", cliCal, "--as-of", "1", "--server", srv.BaseURL, "--user", "bob"); err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("bob restoring: %v", err)
		}
		if srv.DB.Head() != head {
			t.Error("a rejected restore wrote")
		}
		for _, p := range []string{"/admin/history?path=" + cliCal, "/admin/export?path=" + cliCal} {
			resp, body := srv.Do(t, http.MethodGet, p, "bob", "")
			var e struct{ Error string }
			if resp.StatusCode != http.StatusForbidden || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
				t.Errorf("bob GET %s: %s %s", p, resp.Status, body)
			}
			if resp, _ := srv.Do(t, http.MethodGet, p, "", ""); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("anonymous GET %s: %s", p, resp.Status)
			}
		}
	})
	t.Run("ErrBadPassword", func(t *testing.T) {
		env, _, _ := auditCLIEnv()
		env.getenv = func(k string) string {
			if k == "ALMANAC_PASSWORD" {
				return "wrong"
			}
			return ""
		}
		if err := runVerify(t.Context(), env, server); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("wrong password: %v", err)
		}
		// Without ALMANAC_PASSWORD the password is read from stdin.
		env, out, _ := auditCLIEnv()
		env.getenv = func(string) string { return "" }
		env.stdin = strings.NewReader(testPassword + "\n")
		if err := runVerify(t.Context(), env, server); err != nil || out.String() != "ok: projections match the log\n" {
			t.Errorf("password from stdin: %v %q", err, out)
		}
	})
	t.Run("ErrDataDirInUse", func(t *testing.T) {
		if _, _, err := runAuditCLI(t, "verify", "--data", srv.DataDir); !errors.Is(err, errDataDirInUse) {
			t.Errorf("--data of a running server: err = %v, want errDataDirInUse", err)
		}
	})
	t.Run("AdminExport", func(t *testing.T) {
		for path, ct := range map[string]string{cliCal: "text/calendar", cliCards: "text/vcard"} {
			resp, body := srv.Do(t, http.MethodGet, "/admin/export?path="+path, "admin", "")
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) {
				t.Errorf("GET /admin/export?path=%s: %s, Content-Type %q, want %s\n%s", path, resp.Status, resp.Header.Get("Content-Type"), ct, body)
			}
		}
		// Only calendars and address books export; anything else is the
		// caller's mistake.
		for _, path := range []string{a, "/dav/home/alice/"} {
			if resp, body := srv.Do(t, http.MethodGet, "/admin/export?path="+path, "admin", ""); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("GET /admin/export?path=%s: %s, want 400\n%s", path, resp.Status, body)
			}
		}
		if resp, _ := srv.Do(t, http.MethodGet, "/admin/export?path=/dav/home/alice/nope/", "admin", ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("export of a missing collection: %s, want 404", resp.Status)
		}
	})
	t.Run("UserOwnRestore", func(t *testing.T) {
		srv.Do(t, "PROPFIND", "/dav/home/bob/", "bob", "", "Depth", "0") // bob's first login makes his home
		head := srv.DB.Head()
		resp, body := srv.Do(t, http.MethodPost, cliCal+"?restore=1&dry-run=1", "alice", "")
		var rep audit.RestoreReport
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &rep) != nil || !rep.DryRun || len(rep.Actions) == 0 {
			t.Errorf("alice ?restore dry run: %s %s", resp.Status, body)
		}
		if resp, _ := srv.Do(t, http.MethodPost, cliCal+"?restore=1", "bob", ""); resp.StatusCode/100 == 2 {
			t.Errorf("bob restores alice's calendar: %s", resp.Status)
		}
		if srv.DB.Head() != head {
			t.Error("a dry run or a rejected restore wrote")
		}
	})
	t.Run("UserOwnHistory", func(t *testing.T) {
		resp, body := srv.Do(t, http.MethodGet, a+"?history", "alice", "")
		var h []audit.Change
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &h) != nil || len(h) < 2 {
			t.Errorf("alice ?history: %s %s", resp.Status, body)
		}
		if resp, _ := srv.Do(t, http.MethodGet, a+"?history", "bob", ""); resp.StatusCode/100 == 2 {
			t.Errorf("bob reads alice's history: %s", resp.Status)
		}
	})
}

// importICS is one iCalendar stream of the kind calendar apps export: a
// METHOD, two VTIMEZONEs, a recurring event with an override listed after
// an unrelated event, a todo whose UID is not a safe file name, and an
// event without UID.
const importICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Some App//EN\r\nMETHOD:PUBLISH\r\nX-WR-CALNAME:Team\r\n" +
	"BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n" +
	"BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nBEGIN:STANDARD\r\nDTSTART:19701101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n" +
	"BEGIN:VEVENT\r\nUID:weekly@imp\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260105T100000\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:single@imp\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=America/New_York:20260107T090000\r\nSUMMARY:Single\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:weekly@imp\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260112T100000\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260112T110000\r\nSUMMARY:Weekly (moved)\r\nEND:VEVENT\r\n" +
	"BEGIN:VTODO\r\nUID:todo/1@imp\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Todo\r\nEND:VTODO\r\n" +
	"BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nSUMMARY:No UID\r\nEND:VEVENT\r\n" +
	"END:VCALENDAR\r\n"

func writeFile(t testing.TB, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAuditCLIImportFile imports a multi-event .ics into a new collection
// of a user without a home (--data), and a .vcf into an address book
// through the admin API (--server).
func TestAuditCLIImportFile(t *testing.T) {
	src := writeFile(t, t.TempDir(), "team.ics", importICS)
	dir := t.TempDir()
	const team = "/dav/home/carol/team/"
	// An item that cannot be imported is reported and fails the command;
	// the others go in. A second import writes nothing.
	// carol has no account: the import says so.
	const noAccount = "no account yet for: carol (add each with `almanac user add NAME`, or serve with --htpasswd and Radicale's users file)\n"
	for _, want := range []string{"imported 3 object(s), 0 unchanged, 1 error(s)\n" + noAccount, "imported 0 object(s), 3 unchanged, 1 error(s)\n" + noAccount} {
		out, stderr, err := runAuditCLI(t, "import", team, src, "--data", dir)
		if err == nil || out != want || !strings.Contains(stderr, "error: "+team+": VEVENT without UID skipped") {
			t.Fatalf("import: %v %q %q, want %q", err, out, stderr, want)
		}
	}
	withDB(t, dir, func(db *engine.DB) {
		if c, err := db.Collection("/dav/home/carol/"); err != nil || c.Kind != engine.KindHome || c.Owner != "carol" {
			t.Fatalf("carol's home: %+v %v", c, err)
		}
		if c, err := db.Collection(team); err != nil || c.Kind != engine.KindCalendar || c.Owner != "carol" {
			t.Fatalf("%s: %+v %v", team, c, err)
		}
		got := objectBodies(t, db, team)
		if fmt.Sprint(sortedKeys(got)) != "[single@imp.ics todo_1@imp.ics weekly@imp.ics]" {
			t.Fatalf("objects %v", sortedKeys(got))
		}
		head := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Some App//EN\r\n"
		berlin := importICS[strings.Index(importICS, "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin"):strings.Index(importICS, "BEGIN:VTIMEZONE\r\nTZID:America")]
		weekly := head + berlin + between(importICS, "BEGIN:VEVENT\r\nUID:weekly@imp", "BEGIN:VEVENT\r\nUID:single") +
			between(importICS, "BEGIN:VEVENT\r\nUID:weekly@imp\r\nRECURRENCE-ID", "BEGIN:VTODO") + "END:VCALENDAR\r\n"
		if got["weekly@imp.ics"] != weekly {
			t.Errorf("weekly@imp.ics (master and override with the Berlin zone only):\n%s\nwant\n%s", got["weekly@imp.ics"], weekly)
		}
		if b := got["single@imp.ics"]; !strings.Contains(b, "TZID:America/New_York\r\n") || strings.Contains(b, "Europe/Berlin") || strings.Count(b, "BEGIN:VEVENT") != 1 {
			t.Errorf("single@imp.ics:\n%s", b)
		}
		for name, b := range got {
			if strings.Contains(b, "METHOD:") || strings.Contains(b, "X-WR-CALNAME") {
				t.Errorf("%s keeps calendar-level METHOD or X-WR-CALNAME:\n%s", name, b)
			}
		}
	})

	srv := startServer(t)
	cards := writeFile(t, t.TempDir(), "people.vcf", cliCard("p1@imp", "Ann")+cliCard("p2@imp", "Ben"))
	out := mustAuditCLI(t, "import", "/dav/home/bob/people", cards, "--server", srv.BaseURL, "--user", "admin")
	if out != "imported 2 object(s), 0 unchanged, 0 error(s)\n" {
		t.Fatalf("import through the server: %q", out)
	}
	c, err := srv.DB.Collection("/dav/home/bob/people/")
	if err != nil || c.Kind != engine.KindAddressBook {
		t.Fatalf("people: %+v %v", c, err)
	}
	for uid, name := range map[string]string{"p1@imp": "Ann", "p2@imp": "Ben"} {
		resp, body := srv.Do(t, http.MethodGet, "/dav/home/bob/people/"+uid+".vcf", "bob", "")
		if resp.StatusCode != http.StatusOK || body != cliCard(uid, name) {
			t.Errorf("GET %s.vcf as bob: %s\n%q", uid, resp.Status, body)
		}
	}
	if h := historyJSON(t, "/dav/home/bob/people/p1@imp.vcf", "--server", srv.BaseURL, "--user", "admin"); len(h) != 1 || h[0].Actor != "admin" {
		t.Errorf("import recorded as %+v", h)
	}
}

// between returns s from the start of from up to the start of to.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	j := strings.Index(s[i:], to)
	return s[i : i+j]
}

// radicale is a Radicale server run for a test on a loopback port with
// no authentication (any user name logs in as itself).
type radicale struct {
	URL, Storage string
	stop         func()
}

// Stop stops Radicale and waits for it to exit (the test's cleanup does
// too).
func (r *radicale) Stop() { r.stop() }

func startRadicale(t *testing.T) *radicale {
	t.Helper()
	bin := requireBinary(t, "radicale", "radicale")
	// Its port is held for the test (testport); should a process that
	// binds ports by number have it, try again on another.
	for attempt := 0; ; attempt++ {
		r, logs, err := tryRadicale(t, bin)
		if err == nil {
			return r
		}
		if attempt == 2 || !strings.Contains(logs, "in use") {
			t.Fatalf("%v\n%s", err, logs)
		}
	}
}

// tryRadicale starts Radicale on a port held for the test and waits until
// its own process listens there and answers; on failure it returns
// Radicale's output. An answer alone could come from another process
// that took the port: session 18's CI measured a parallel test's server
// that way (bench's TestScaleSmoke).
func tryRadicale(t *testing.T, bin string) (*radicale, string, error) {
	port := testport.Ports(t, 1)[0]
	addr := fmt.Sprint("127.0.0.1:", port)
	dir := t.TempDir()
	r := &radicale{URL: "http://" + addr, Storage: filepath.Join(dir, "collections")}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config", "", "--server-hosts", addr,
		"--storage-filesystem-folder", r.Storage, "--auth-type", "none")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	r.stop = sync.OnceFunc(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(time.Minute):
			cancel()
			<-done
		}
	})
	t.Cleanup(r.stop)
	// Python's start under load 30 takes many seconds: a bound that
	// returns as soon as Radicale answers.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ours, err := testport.ListensOn(cmd.Process.Pid, port)
		if err != nil {
			t.Fatal(err)
		}
		if ours {
			resp, err := http.Get(r.URL + "/.web/")
			if err == nil {
				resp.Body.Close()
				return r, "", nil
			}
		}
		select {
		case <-done:
			return nil, logs.String(), errors.New("radicale exited")
		default:
		}
		if time.Now().After(deadline) {
			return nil, logs.String(), fmt.Errorf("radicale did not listen and answer on %s within 2 minutes", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// do sends a request to Radicale as user and fails unless it answers want.
func (r *radicale) do(t *testing.T, method, path, body, contentType string, want int) {
	t.Helper()
	req, err := http.NewRequest(method, r.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("alice", "any")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("radicale %s %s: %s, want %d", method, path, resp.Status, want)
	}
}

// TestAuditCLIImportRadicale fills a real Radicale with a calendar and an
// address book, stops it, and imports its collection-root/alice folder
// into alice's home: both collections come over with their display name,
// description, color, component set, a client's own property and kind,
// every object byte for byte under the name Radicale's clients gave it
// (its href, with or without an extension). A second import writes
// nothing.
func TestAuditCLIImportRadicale(t *testing.T) {
	rad := startRadicale(t)
	rad.do(t, "PROPFIND", "/alice/", "", "", http.StatusMultiStatus) // creates the principal collection
	mkcol := `<?xml version="1.0" encoding="utf-8"?><mkcol xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" ` +
		`xmlns:CR="urn:ietf:params:xml:ns:carddav" xmlns:I="http://apple.com/ns/ical/" xmlns:X="urn:example:x"><set><prop>%s</prop></set></mkcol>`
	rad.do(t, "MKCOL", "/alice/work/", fmt.Sprintf(mkcol, `<resourcetype><collection/><C:calendar/></resourcetype>`+
		`<displayname>Work</displayname><I:calendar-color>#ff0000ff</I:calendar-color>`+
		`<C:calendar-description>Team &amp; work</C:calendar-description>`+
		`<C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>`+
		`<X:note>kept &lt;as is&gt;</X:note>`), "application/xml", http.StatusCreated)
	rad.do(t, "MKCOL", "/alice/people/", fmt.Sprintf(mkcol, `<resourcetype><collection/><CR:addressbook/></resourcetype>`+
		`<displayname>People</displayname><CR:addressbook-description>Friends</CR:addressbook-description>`), "application/xml", http.StatusCreated)
	rad.do(t, "MKCOL", "/alice/empty/", fmt.Sprintf(mkcol, `<resourcetype><collection/><C:calendar/></resourcetype>`+
		`<displayname>Nothing yet</displayname>`), "application/xml", http.StatusCreated)
	workFiles := []string{"meeting-href.ics", "event-1.ics", "2f1c0d9e-no-extension"}
	for i, uid := range []string{"r1@rad", "r2@rad", "r3@rad"} {
		rad.do(t, http.MethodPut, "/alice/work/"+workFiles[i], cliEvent(uid, "Radicale "+uid), "text/calendar", http.StatusCreated)
	}
	rad.do(t, http.MethodPut, "/alice/people/ann.vcf", cliCard("ann@rad", "Ann"), "text/vcard", http.StatusCreated)
	rad.do(t, http.MethodPut, "/alice/people/ben.vcf", cliCard("ben@rad", "Ben"), "text/vcard", http.StatusCreated)
	root := filepath.Join(rad.Storage, "collection-root", "alice")
	if _, err := os.Stat(filepath.Join(root, "work", ".Radicale.props")); err != nil {
		t.Fatalf("radicale's storage layout: %v", err)
	}

	srv := startServer(t)
	srv.Do(t, "PROPFIND", "/dav/home/alice/", "alice", "", "Depth", "0") // alice's home, as a first login makes it
	srv.Stop(t)
	out := mustAuditCLI(t, "import", "/dav/home/alice/", root, "--data", srv.DataDir)
	if out != "imported 5 object(s), 0 unchanged, 0 error(s)\n" {
		t.Fatalf("import: %q", out)
	}
	var head engine.Seq
	withDB(t, srv.DataDir, func(db *engine.DB) {
		head = db.Head()
		for _, want := range []struct {
			path, name, color, desc string
			comps                   []string
			kind                    engine.Kind
			files                   []string
		}{
			{"/dav/home/alice/work/", "Work", "#ff0000ff", "Team & work", []string{"VEVENT"}, engine.KindCalendar, workFiles},
			{"/dav/home/alice/people/", "People", "", "Friends", nil, engine.KindAddressBook, []string{"ann.vcf", "ben.vcf"}},
		} {
			c, err := db.Collection(want.path)
			if err != nil {
				t.Fatalf("%s: %v", want.path, err)
			}
			if c.Kind != want.kind || c.Props.DisplayName != want.name || c.Props.Color != want.color || c.Owner != "alice" ||
				c.Props.Description != want.desc || fmt.Sprint(c.Props.Components) != fmt.Sprint(want.comps) {
				t.Errorf("%s: kind %v, name %q, color %q, owner %q, description %q, components %v", want.path, c.Kind,
					c.Props.DisplayName, c.Props.Color, c.Owner, c.Props.Description, c.Props.Components)
			}
			got := objectBodies(t, db, want.path)
			wantBodies := map[string]string{}
			for _, file := range want.files {
				b, err := os.ReadFile(filepath.Join(root, filepath.Base(want.path), file))
				if err != nil {
					t.Fatal(err)
				}
				wantBodies[file] = string(b)
			}
			if diff := diffBodies(wantBodies, got); diff != "" {
				t.Errorf("%s differs from Radicale's files:\n%s", want.path, diff)
			}
		}
		c, err := db.Collection("/dav/home/alice/work/")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.Props.Dead["{urn:example:x}note"], `<note xmlns="urn:example:x">kept &lt;as is&gt;</note>`; got != want {
			t.Errorf("client property: %q, want %q (all: %v)", got, want, c.Props.Dead)
		}
		// An empty collection comes over too, as what it was.
		if c, err := db.Collection("/dav/home/alice/empty/"); err != nil || c.Kind != engine.KindCalendar || c.Props.DisplayName != "Nothing yet" {
			t.Errorf("empty Radicale calendar: %+v %v", c, err)
		}
		// The default collections made at alice's first login are untouched.
		if c, err := db.Collection(cliCal); err != nil || c.Count != 0 {
			t.Errorf("%s after import: %+v %v", cliCal, c, err)
		}
	})
	// The same import again: nothing changes, not even the log.
	if out := mustAuditCLI(t, "import", "/dav/home/alice/", root, "--data", srv.DataDir); out != "imported 0 object(s), 5 unchanged, 0 error(s)\n" {
		t.Fatalf("second import: %q", out)
	}
	withDB(t, srv.DataDir, func(db *engine.DB) {
		if db.Head() != head {
			t.Errorf("a second import appended events %d..%d", head+1, db.Head())
		}
	})
}

// TestAuditCLIExportImportRoundTrip: export from one server, import into
// a fresh one, export again: the same bytes, for a calendar and an address
// book, through --server on one side and --data on the other. The source
// names its objects the way clients do (random names, not the UIDs), so
// the order of objects by name differs between the two servers.
func TestAuditCLIExportImportRoundTrip(t *testing.T) {
	src := startServer(t)
	for name, body := range map[string]string{
		"3f2a91.ics": cliEvent("a-first@rt", "First"),
		"0b7c55.ics": cliEvent("z-last@rt", "Last"),
		"9d1e07.ics": strings.Replace(cliEvent("m-middle@rt", "Middle"), "END:VEVENT\r\n",
			"RRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:m-middle@rt\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260106T100000\r\n"+
				"DTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260106T120000\r\nSUMMARY:Middle (moved)\r\nEND:VEVENT\r\n", 1),
		"5c5c5c.ics": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//EN\r\nBEGIN:VTODO\r\nUID:k-todo@rt\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Todo\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
		"x1.vcf":     cliCard("aa-card@rt", "Abe"),
		"a9.vcf":     cliCard("zz-card@rt", "Zed"),
	} {
		coll := cliCal
		if strings.HasSuffix(name, ".vcf") {
			coll = cliCards
		}
		cliPut(t, src, "alice", coll+name, body)
	}
	tmp := t.TempDir()
	dst := t.TempDir()
	for _, c := range []struct{ path, file string }{{cliCal, "cal.ics"}, {cliCards, "cards.vcf"}} {
		first := mustAuditCLI(t, "export", c.path, "--server", src.BaseURL, "--user", "admin")
		file := writeFile(t, tmp, c.file, first)
		if out := mustAuditCLI(t, "import", c.path, file, "--data", dst); !strings.Contains(out, " 0 error(s)\n") {
			t.Fatalf("import %s: %q", c.file, out)
		}
		second := mustAuditCLI(t, "export", c.path, "--data", dst)
		if second != first {
			t.Errorf("%s: export after import differs:\n--- first\n%s--- second\n%s", c.path, first, second)
		}
	}
}

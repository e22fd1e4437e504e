package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/almanac/almanac/engine"
)

// syncCollection sends an RFC 6578 sync-collection REPORT for alice's
// calendar with token and returns the status, the new token and the body.
func syncCollection(t *testing.T, srv *testServer, token string) (int, string, string) {
	t.Helper()
	body := `<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>` + token +
		`</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`
	resp, out := srv.Do(t, "REPORT", "/dav/home/alice/calendar/", "alice", body, "Content-Type", "application/xml")
	var ms struct {
		Token string `xml:"DAV: sync-token"`
	}
	if resp.StatusCode == http.StatusMultiStatus {
		if err := xml.Unmarshal([]byte(out), &ms); err != nil {
			t.Fatalf("sync-collection answer: %v\n%s", err, out)
		}
	}
	return resp.StatusCode, ms.Token, out
}

func calendarEvent(uid, summary string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid + "\r\n" +
		"DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:" + summary +
		"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
}

// logEvents returns the events 1..head of db's log.
func logEvents(t *testing.T, db *engine.DB, head engine.Seq) []*engine.Event {
	t.Helper()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var out []*engine.Event
	for ev, err := range v.Log(1) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Seq > head {
			break
		}
		out = append(out, ev)
	}
	return out
}

var headSeq = regexp.MustCompile(`head seq (\d+)`)

// TestBackupRestore takes `almanac backup --server` while four clients PUT
// over HTTP, checks it with `backup --verify`, and starts a server on it:
// its log equals the source's event by event up to the backup's head, it
// serves the objects, and a client's sync token from the source — one from
// after the backup's head (the restored server went back in time) and one
// from before — gets 403 DAV:valid-sync-token (a full sync), never a
// delta that would let the client believe it is up to date. A backup to an
// existing directory is refused; without --server, the server running on
// --data is found through DATA/server.json.
func TestBackupRestore(t *testing.T) {
	t.Parallel() // its own data directory (and servers on free ports): it shares nothing with other tests
	backups := t.TempDir()
	srv := startServer(t, "--backup-dir="+backups)
	put := func(name, summary string) {
		t.Helper()
		if resp, body := srv.Do(t, "PUT", "/dav/home/alice/calendar/"+name+".ics", "alice", calendarEvent(name, summary),
			"Content-Type", "text/calendar"); resp.StatusCode >= 300 {
			t.Errorf("PUT %s: %s %s", name, resp.Status, body)
		}
	}
	for i := range 10 {
		put(fmt.Sprintf("early-%d", i), "early")
	}
	code, tokenBefore, out := syncCollection(t, srv, "")
	if code != http.StatusMultiStatus {
		t.Fatalf("initial sync: %d %s", code, out)
	}

	var half, all sync.WaitGroup
	for w := range 4 {
		half.Add(1)
		all.Add(1)
		go func() {
			defer all.Done()
			for i := range 40 {
				if i == 20 {
					half.Done()
				}
				put(fmt.Sprintf("w%d-%d", w, i%15), fmt.Sprintf("version %d", i))
			}
		}()
	}
	half.Wait()
	dest := filepath.Join(backups, "b1")
	outText := mustBackupCLI(t, dest, "--server", srv.BaseURL, "--user", "admin")
	all.Wait()
	m := headSeq.FindStringSubmatch(outText)
	if m == nil || !strings.Contains(outText, "restore: almanac serve --data "+dest) {
		t.Fatalf("backup printed:\n%s", outText)
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	head := engine.Seq(n)
	if head == 0 || head > srv.DB.Head() {
		t.Fatalf("backup head %d, source head %d", head, srv.DB.Head())
	}
	put("after", "after the backup") // the source surely moves past the backup
	code, tokenAfter, out := syncCollection(t, srv, tokenBefore)
	if code != http.StatusMultiStatus || tokenAfter == "" {
		t.Fatalf("sync on the source: %d %s", code, out)
	}

	if v := mustBackupCLI(t, dest, "--verify"); !strings.Contains(v, "ok: verified: "+dest+"\nhead seq "+m[1]+",") {
		t.Fatalf("backup --verify printed:\n%s", v)
	}
	t.Run("ErrExists", func(t *testing.T) {
		_, errOut, err := runBackupCLI(t, dest, "--server", srv.BaseURL, "--user", "admin")
		if err == nil || !strings.Contains(err.Error(), "412") || !strings.Contains(err.Error(), "never overwrites") {
			t.Fatalf("backup onto an existing backup: %v %s", err, errOut)
		}
	})
	t.Run("LocalServer", func(t *testing.T) {
		// No --server, and the server holds --data: the command asks it
		// at the address in DATA/server.json.
		dest := filepath.Join(backups, "local")
		out, errOut, err := runBackupCLI(t, dest, "--data", srv.DataDir)
		if err != nil || !strings.Contains(out, "ok: backup written and verified: "+dest) ||
			!strings.Contains(errOut, "asking it for the backup through its admin API at "+srv.BaseURL) {
			t.Fatalf("backup --data of a running server: %v\n%s\n%s", err, out, errOut)
		}
		if _, _, err := runBackupCLI(t, "relative/b", "--data", srv.DataDir); err == nil || !strings.Contains(err.Error(), "absolute path") {
			t.Fatalf("relative DEST through the server: %v", err)
		}
	})
	want := logEvents(t, srv.DB, head)
	restored := startServer(t, "--data="+dest)
	if got := logEvents(t, restored.DB, head); !cmp.Equal(got, want) {
		t.Fatalf("restored log differs from the source's up to seq %d:\n%s", head, cmp.Diff(want, got))
	}
	if err := restored.DB.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, body := restored.Do(t, "GET", "/dav/home/alice/calendar/early-3.ics", "alice", "")
	if resp.StatusCode != http.StatusOK || body != calendarEvent("early-3", "early") {
		t.Fatalf("GET on the restored server: %s %q", resp.Status, body)
	}
	for name, tok := range map[string]string{"after the backup": tokenAfter, "before the backup": tokenBefore} {
		code, _, out := syncCollection(t, restored, tok)
		if code != http.StatusForbidden || !strings.Contains(out, "valid-sync-token") {
			t.Errorf("source's token from %s on the restored server: %d, want 403 valid-sync-token:\n%s", name, code, out)
		}
	}
	if code, _, out := syncCollection(t, restored, ""); code != http.StatusMultiStatus || strings.Contains(out, "after.ics") ||
		!strings.Contains(out, "early-3.ics") {
		t.Fatalf("full sync on the restored server: %d\n%s", code, out)
	}

	t.Run("Offline", func(t *testing.T) {
		restored.Stop(t)
		dest2 := filepath.Join(t.TempDir(), "offline")
		out := mustBackupCLI(t, dest2, "--data", dest)
		if !strings.Contains(out, "ok: backup written and verified: "+dest2) {
			t.Fatalf("offline backup printed:\n%s", out)
		}
	})
}

// runBackupCLI runs `almanac backup ARGS...` in-process.
func runBackupCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	env, out, errOut := auditCLIEnv()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = runBackup(ctx, env, args)
	return out.String(), errOut.String(), err
}

func mustBackupCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := runBackupCLI(t, args...)
	if err != nil {
		t.Fatalf("almanac backup %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

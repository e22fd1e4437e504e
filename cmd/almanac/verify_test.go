package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestVerifyReportsCorruption damages a table of a data directory: `almanac
// verify` exits 1 and says what it found (the file, what is lost, the
// command to run), instead of exiting 1 with no word; when only projections
// are damaged, `almanac rebuild` recovers them and verify passes again.
func TestVerifyReportsCorruption(t *testing.T) {
	data := t.TempDir()
	db, err := openDB(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := engine.Meta{Actor: "test"}
	for _, spec := range []engine.CollectionSpec{
		{Path: "/dav/home/alice/", Kind: engine.KindHome, Owner: "alice"},
		{Path: "/dav/home/alice/calendar/", Kind: engine.KindCalendar, Owner: "alice"},
	} {
		if _, err := db.CreateCollection(t.Context(), m, spec); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 500 {
		body := cliEvent(fmt.Sprintf("u%d", i), strings.Repeat("s", 100))
		if _, err := db.PutObject(t.Context(), m, "/dav/home/alice/calendar/", fmt.Sprintf("e%d.ics", i), []byte(body), engine.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	// A rebuild writes the projections into tables of their own, made
	// after any table of the log: the newest table holds projections.
	mustAuditCLI(t, "rebuild", "--data", data)
	ssts, _ := filepath.Glob(filepath.Join(data, "db", "*.sst"))
	if len(ssts) == 0 {
		t.Fatal("no sstable")
	}
	sort.Strings(ssts)
	path := ssts[len(ssts)-1]
	b, _ := os.ReadFile(path)
	b[len(b)/3] ^= 0xff
	b[len(b)/3+1] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"verify", "--data", data}, &out, &errOut); code != 1 {
		t.Fatalf("verify exited %d, want 1\n%s%s", code, &out, &errOut)
	}
	msg := errOut.String()
	for _, want := range []string{"almanac verify: engine: on-disk corruption", "unreadable projection records",
		filepath.Base(path), "almanac rebuild --data DIR", "nothing is lost"} {
		if !strings.Contains(msg, want) {
			t.Errorf("verify's message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "unreadable log records") {
		t.Errorf("damage in a projection table reported as lost log records:\n%s", msg)
	}
	if out := mustAuditCLI(t, "rebuild", "--data", data); out != "ok: projections rebuilt from the log\n" {
		t.Errorf("rebuild: %q", out)
	}
	if out := mustAuditCLI(t, "verify", "--data", data); out != "ok: projections match the log\n" {
		t.Errorf("verify after the rebuild: %q", out)
	}
}

package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
	"github.com/cockroachdb/pebble/v2/vfs"
)

var ctx = context.Background()

var (
	aliceMeta = engine.Meta{Actor: "alice", UserAgent: "test/1.0"}
	cal       = "/dav/home/alice/calendar/"
)

func mustOpen(tb testing.TB) *engine.DB {
	tb.Helper()
	db, err := engine.Open("db", &engine.Options{FS: vfs.NewMem()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func mustCalendar(tb testing.TB, db *engine.DB) {
	tb.Helper()
	for _, s := range []engine.CollectionSpec{
		{Path: "/dav/home/alice/", Kind: engine.KindHome, Owner: "alice"},
		{Path: cal, Kind: engine.KindCalendar, Owner: "alice"},
	} {
		if _, err := db.CreateCollection(ctx, aliceMeta, s); err != nil {
			tb.Fatal(err)
		}
	}
}

const tzBerlin = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"

func vevent(uid, summary string) string {
	return "BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260105T100000\r\n" +
		"SUMMARY:" + summary + "\r\nDESCRIPTION:a long line that is folded\r\n  across two physical lines\r\nEND:VEVENT\r\n"
}

func calObject(comps ...string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + tzBerlin + strings.Join(comps, "") + "END:VCALENDAR\r\n")
}

func TestExportImportRoundTrip(t *testing.T) {
	src := mustOpen(t)
	mustCalendar(t, src)
	l := &Local{DB: src, Meta: aliceMeta}
	for i := 0; i < 20; i++ {
		uid := fmt.Sprintf("uid-%02d@example.com", i)
		comps := []string{vevent(uid, "Event "+uid)}
		if i%5 == 0 { // an override stays with its master
			comps = append(comps, strings.Replace(vevent(uid, "Moved"), "DTSTAMP", "RECURRENCE-ID:20260112T100000Z\r\nDTSTAMP", 1))
		}
		if _, err := src.PutObject(ctx, aliceMeta, cal, ObjectName(uid, ".ics"), calObject(comps...), engine.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := l.Export(ctx, cal, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(first, []byte("BEGIN:VTIMEZONE")); n != 1 {
		t.Fatalf("export has %d VTIMEZONEs, want 1 (merged by TZID)", n)
	}
	items, err := SplitCalendar(first)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 20 {
		t.Fatalf("split into %d objects, want 20", len(items))
	}
	dst := mustOpen(t)
	rep, err := (&Local{DB: dst, Meta: aliceMeta}).Import(ctx, ImportRequest{Collections: []ImportCollection{{Path: cal, Kind: "calendar", Items: items}}})
	if err != nil || rep.Imported != 20 || len(rep.Errors) != 0 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	second, err := (&Local{DB: dst}).Export(ctx, cal, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("export after import differs:\n%s\n---\n%s", first, second)
	}
}

func TestImportRadicaleFolderAndErrors(t *testing.T) {
	items, err := SplitCalendar([]byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:PUBLISH\r\nBEGIN:VEVENT\r\nSUMMARY:no uid\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:a/b\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Err == "" || items[1].Name != "a_b.ics" || bytes.Contains(items[1].Body, []byte("METHOD")) {
		t.Fatalf("split: %+v", items)
	}
	db := mustOpen(t)
	rep, err := (&Local{DB: db, Meta: aliceMeta}).Import(ctx, ImportRequest{Collections: []ImportCollection{{Path: cal, Items: items}}})
	if err != nil || rep.Imported != 1 || len(rep.Errors) != 1 {
		t.Fatalf("import with one bad item: %+v %v", rep, err)
	}
	if c, err := db.Collection("/dav/home/alice/"); err != nil || c.Kind != engine.KindHome {
		t.Fatalf("home not created: %v", err)
	}
	cards, err := SplitVCards([]byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:B\r\nEND:VCARD\r\n"))
	if err != nil || len(cards) != 2 || cards[0].Name != "c1.vcf" || !strings.HasPrefix(cards[1].Name, "card-") {
		t.Fatalf("vcards: %+v %v", cards, err)
	}
}

func TestDiff(t *testing.T) {
	a := calObject(vevent("x", "Lunch"))
	b := calObject(vevent("x", "Dinner"))
	lines, err := Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"- VEVENT uid=x SUMMARY:Lunch", "+ VEVENT uid=x SUMMARY:Dinner"}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("diff: %q, want %q", lines, want)
	}
}

type fakeAuth map[string]string // user -> role

// fakeAuth's password "busy" finds every hashing slot busy, "down" the
// user directory down.
func (f fakeAuth) Authenticate(_ context.Context, user, pw, _ string) (*engine.User, error) {
	switch pw {
	case "busy":
		return nil, fmt.Errorf("auth: %w", &auth.BusyError{Slots: 2, Wait: 6500 * time.Millisecond})
	case "down":
		return nil, &auth.UnavailableError{Err: errors.New("ldap: connection refused")}
	}
	if role, ok := f[user]; ok && pw == "secret" {
		return &engine.User{Name: user, Role: role}, nil
	}
	return nil, errors.New("bad credentials")
}

func TestAdminAPI(t *testing.T) {
	db := mustOpen(t)
	mustCalendar(t, db)
	db.PutObject(ctx, aliceMeta, cal, "a.ics", calObject(vevent("a", "A")), engine.PutOptions{})
	srv := httptest.NewServer(&Admin{DB: db, Auth: fakeAuth{"admin": engine.RoleAdmin, "bob": engine.RoleUser}})
	defer srv.Close()
	t.Run("ErrNotAdmin", func(t *testing.T) {
		_, err := (&Client{Server: srv.URL, User: "bob", Password: "secret"}).History(ctx, cal, noTime)
		if err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("non-admin: %v", err)
		}
	})
	t.Run("ErrBadPassword", func(t *testing.T) {
		_, err := (&Client{Server: srv.URL, User: "admin", Password: "nope"}).History(ctx, cal, noTime)
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("bad password: %v", err)
		}
	})
	t.Run("ErrBusy", func(t *testing.T) {
		// A login the verifier could not take in time, or whose directory
		// is down, is 503 with Retry-After, not 401.
		for pw, want := range map[string]string{
			"busy": "all 2 password-hashing slots stayed busy for 6.5s; retry in 7 seconds",
			"down": "the user directory is not answering",
		} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/users", nil)
			req.SetBasicAuth("admin", pw)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ra := map[string]string{"busy": "7", "down": "30"}[pw] // the wait of 6.5s rounded up; the directory's fixed 30
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != ra || !strings.Contains(string(body), want) {
				t.Errorf("%s: %d, Retry-After %q, body %s; want 503 with Retry-After %s and %q", pw, resp.StatusCode, resp.Header.Get("Retry-After"), body, ra, want)
			}
		}
	})
	t.Run("OK", func(t *testing.T) {
		c := &Client{Server: srv.URL, User: "admin", Password: "secret"}
		h, err := c.History(ctx, cal+"a.ics", noTime)
		if err != nil || len(h) != 1 || h[0].Actor != "alice" {
			t.Fatalf("history: %+v %v", h, err)
		}
		if err := db.DeleteObject(ctx, aliceMeta, cal, "a.ics", ""); err != nil {
			t.Fatal(err)
		}
		rep, err := c.Undelete(ctx, cal+"a.ics")
		if err != nil || len(rep.Actions) != 1 {
			t.Fatalf("undelete: %+v %v", rep, err)
		}
		h, _ = c.History(ctx, cal+"a.ics", noTime)
		if last := h[len(h)-1]; last.Actor != "admin" || last.UserAgent != "almanac-cli" || !strings.HasPrefix(last.Reason, "undelete") {
			t.Fatalf("undelete recorded as %+v", last)
		}
		if err := c.Verify(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Restore(ctx, RestoreQuery{Path: cal, AsOf: "not-a-time"}); err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("bad as-of: %v", err)
		}
	})
}

func TestUserHandlerRejectsAnonymous(t *testing.T) {
	db := mustOpen(t)
	rec := httptest.NewRecorder()
	(&User{DB: db}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, cal+"?history", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("anonymous history: %d", rec.Code)
	}
}

var noTime time.Time

package dav

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/cockroachdb/pebble/v2/vfs"
)

var update = flag.Bool("update", false, "rewrite the responses of testdata/exchanges")

// fakeAuth accepts alice, bob, carol, dave, erin, frank and gina, each
// with their name as password.
type fakeAuth struct{}

var errBadCredentials = errors.New("bad credentials")

func (fakeAuth) Authenticate(_ context.Context, user, password, _ string) (*engine.User, error) {
	switch user {
	case "alice", "bob", "carol", "dave", "erin", "frank", "gina":
		if password == user {
			return &engine.User{Name: user}, nil
		}
	}
	return nil, errBadCredentials
}

// mustHandler opens an in-memory engine and a Handler over it.
func mustHandler(tb testing.TB, opts Options) (*Handler, *engine.DB) {
	tb.Helper()
	return mustHandlerLimits(tb, opts, engine.Limits{})
}

// mustHandlerLimits is mustHandler with the engine's limits set.
func mustHandlerLimits(tb testing.TB, opts Options, lim engine.Limits) (*Handler, *engine.DB) {
	tb.Helper()
	return mustHandlerEngine(tb, opts, engine.Options{Limits: lim})
}

// mustHandlerEngine is mustHandler with the engine opened with eopts, on
// an in-memory filesystem and with 64 KiB objects at most.
func mustHandlerEngine(tb testing.TB, opts Options, eopts engine.Options) (*Handler, *engine.DB) {
	tb.Helper()
	eopts.FS, eopts.MaxObjectSize = vfs.NewMem(), 64<<10
	db, err := engine.Open("db", &eopts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	opts.DB, opts.Auth = db, fakeAuth{}
	h, err := NewHandler(opts)
	if err != nil {
		tb.Fatal(err)
	}
	var delivered atomic.Int64 // inbox names in delivery order
	h.sched.NewName = func() string { return fmt.Sprintf("msg-%03d.ics", delivered.Add(1)) }
	h.sched.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	return h, db
}

var testMeta = engine.Meta{Actor: "alice", UserAgent: "test", RequestID: "setup"}

// TestExchanges plays every testdata/exchanges/<group>/<case>.txtar.
func TestExchanges(t *testing.T) {
	files, err := filepath.Glob("testdata/exchanges/*/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no exchange files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(file, "testdata/exchanges/"), ".txtar")
		t.Run(name, func(t *testing.T) { runExchange(t, file) })
	}
}

// exchange is the state of one case: placeholders of the values that
// differ between runs.
type exchange struct {
	h       *Handler
	db      *engine.DB
	ar      *archive
	real    map[string]string // placeholder -> value
	holders map[string]string // value -> placeholder
	count   map[string]int
}

func runExchange(t *testing.T, file string) {
	ar, err := readArchive(file)
	if err != nil {
		t.Fatal(err)
	}
	h, db := mustHandler(t, Options{MaxRequestBody: 128 << 10})
	x := &exchange{h: h, db: db, ar: ar, real: map[string]string{}, holders: map[string]string{}, count: map[string]int{}}
	for _, u := range []string{"alice", "bob"} {
		if err := db.PutUser(context.Background(), testMeta, engine.User{Name: u, Emails: []string{u + "@example.org"}}); err != nil {
			t.Fatal(err)
		}
		if err := h.ensureHome(context.Background(), u, testMeta); err != nil {
			t.Fatal(err)
		}
	}
	if setup, ok := ar.file("setup"); ok {
		x.setup(t, setup)
	}
	changed := false
	for i := 1; ; i++ {
		req, ok := ar.file(strconv.Itoa(i) + ".request")
		if !ok {
			if i == 1 {
				t.Fatal("no 1.request")
			}
			break
		}
		got := x.play(t, req)
		want, _ := ar.file(strconv.Itoa(i) + ".response")
		if *update {
			for j := range ar.files {
				if ar.files[j].name == strconv.Itoa(i)+".response" {
					ar.files[j].data, changed = got, true
				}
			}
			continue
		}
		if w := x.normalize(t, want); w != got {
			t.Errorf("exchange %d:\n--- want\n%s\n--- got\n%s", i, w, got)
		}
	}
	if changed {
		if err := os.WriteFile(file, ar.format(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// setup runs the fixture lines: "calendar PATH", "addressbook PATH",
// "collection PATH", "put PATH SECTION" (the body of the archive's
// section), "event PATH UID" (a small VEVENT), "vcard PATH UID", "home
// USER" (an account and the user's first request), "group NAME USER...",
// "grant PATH GRANTEE read|read-write|freebusy" (mounted at once) and
// "invite PATH GRANTEE ACCESS" (waiting for the sharee's answer).
func (x *exchange) setup(t *testing.T, text string) {
	ctx := context.Background()
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		var err error
		switch {
		case f[0] == "calendar" && len(f) == 2:
			_, err = x.db.CreateCollection(ctx, testMeta, engine.CollectionSpec{Path: f[1], Kind: engine.KindCalendar, Owner: ownerOf(f[1])})
		case f[0] == "addressbook" && len(f) == 2:
			_, err = x.db.CreateCollection(ctx, testMeta, engine.CollectionSpec{Path: f[1], Kind: engine.KindAddressBook, Owner: ownerOf(f[1])})
		case f[0] == "collection" && len(f) == 2:
			_, err = x.db.CreateCollection(ctx, testMeta, engine.CollectionSpec{Path: f[1], Kind: engine.KindPlain, Owner: ownerOf(f[1])})
		case f[0] == "put" && len(f) == 3:
			body, ok := x.ar.file(f[2])
			if !ok {
				t.Fatalf("setup: no section %q", f[2])
			}
			err = x.put(f[1], []byte(crlf(body)))
		case f[0] == "event" && len(f) == 3:
			err = x.put(f[1], testEvent(f[2]))
		case f[0] == "vcard" && len(f) == 3:
			err = x.put(f[1], testVCard(f[2]))
		case f[0] == "home" && len(f) == 2:
			if err = x.db.PutUser(ctx, testMeta, engine.User{Name: f[1], Emails: []string{f[1] + "@example.org"}}); err == nil {
				err = x.h.ensureHome(ctx, f[1], testMeta)
			}
		case f[0] == "emails" && len(f) >= 2:
			err = x.db.UpdateUser(ctx, testMeta, f[1], func(u *engine.User) error { u.Emails = f[2:]; return nil })
		case f[0] == "group" && len(f) >= 2:
			err = x.db.PutGroup(ctx, testMeta, engine.Group{Name: f[1], Members: f[2:]})
		case (f[0] == "grant" || f[0] == "invite") && len(f) == 4:
			var acc engine.Access
			if acc, err = engine.ParseAccess(f[3]); err == nil {
				err = x.db.Grant(ctx, testMeta, f[1], f[2], acc, engine.GrantOptions{AutoAccept: f[0] == "grant"})
			}
		case f[0] == "push" && len(f) == 1:
			x.h.push = testPush{}
		case f[0] == "delete" && len(f) == 2:
			i := strings.LastIndexByte(f[1], '/')
			err = x.db.DeleteObject(ctx, testMeta, f[1][:i+1], f[1][i+1:], "")
		default:
			t.Fatalf("setup: bad line %q", line)
		}
		if err != nil {
			t.Fatalf("setup %q: %v", line, err)
		}
	}
}

func (x *exchange) put(path string, body []byte) error {
	i := strings.LastIndexByte(path, '/')
	_, err := x.db.PutObject(context.Background(), testMeta, path[:i+1], path[i+1:], body, engine.PutOptions{})
	return err
}

func ownerOf(path string) string {
	return strings.Split(strings.TrimPrefix(path, "/dav/home/"), "/")[0]
}

// crlf turns LF line ends into CRLF.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

func testEvent(uid string) []byte {
	return []byte(crlf(fmt.Sprintf("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nBEGIN:VEVENT\nUID:%s\nDTSTAMP:20260101T000000Z\nDTSTART:20260105T100000Z\nDTEND:20260105T110000Z\nSUMMARY:Meeting %s\nEND:VEVENT\nEND:VCALENDAR\n", uid, uid)))
}

func testVCard(uid string) []byte {
	return []byte(crlf(fmt.Sprintf("BEGIN:VCARD\nVERSION:3.0\nUID:%s\nFN:Person %s\nN:%s;Person;;;\nEND:VCARD\n", uid, uid, uid)))
}

// play sends one raw request and renders the response canonically.
// Requests get alice's credentials unless they carry an Authorization
// header ("Authorization: none" sends none).
func (x *exchange) play(t *testing.T, raw string) string {
	head, body, _ := strings.Cut(strings.ReplaceAll(raw, "\r\n", "\n"), "\n\n")
	phs := make([]string, 0, len(x.real))
	for ph := range x.real {
		phs = append(phs, ph)
	}
	sort.Slice(phs, func(i, j int) bool { return len(phs[i]) > len(phs[j]) }) // ETAG10 before ETAG1
	for _, ph := range phs {
		head = strings.ReplaceAll(head, ph, x.real[ph])
		body = strings.ReplaceAll(body, ph, x.real[ph])
	}
	head, body = expandFill(head, body)
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(strings.ReplaceAll(head, "\n", "\r\n") + "\r\n\r\n")))
	if err != nil {
		t.Fatalf("bad request: %v", err)
	}
	if req.Header.Get("X-Body") == "crlf" {
		body = crlf(body)
	}
	if n, err := strconv.Atoi(req.Header.Get("X-Repeat")); err == nil {
		body = strings.Repeat(strings.TrimSpace(body), n) // large bodies without large files
	}
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	switch req.Header.Get("Authorization") {
	case "":
		req.SetBasicAuth("alice", "alice")
	case "none":
		req.Header.Del("Authorization")
	}
	req.RequestURI, req.RemoteAddr = "", "192.0.2.1:1234"
	rec := httptest.NewRecorder()
	x.h.ServeHTTP(rec, req)
	return x.render(t, rec.Result())
}

// fillRE finds the X-Fill and X-Props headers of a request.
var fillRE = regexp.MustCompile(`(?mi)^X-(Fill|Props): *([0-9]+)$`)

// expandFill makes large requests without large files: with "X-Fill: N",
// every @FILL@ in the request line and the body becomes N letters x; with
// "X-Props: N", @PROPS@ in the body becomes N empty elements <Z:p1/> ...
// <Z:pN/> (Z must be declared).
func expandFill(head, body string) (string, string) {
	for _, m := range fillRE.FindAllStringSubmatch(head, -1) {
		n, _ := strconv.Atoi(m[2])
		if strings.EqualFold(m[1], "fill") {
			fill := strings.Repeat("x", n)
			head, body = strings.ReplaceAll(head, "@FILL@", fill), strings.ReplaceAll(body, "@FILL@", fill)
			continue
		}
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "<Z:p%d/>", i)
		}
		body = strings.ReplaceAll(body, "@PROPS@", b.String())
	}
	return head, body
}

// shownHeaders are the response headers the golden files record.
var shownHeaders = []string{"Allow", "Content-Encoding", "Content-Type", "DAV", "ETag", "Expires", "Last-Modified", "Location", "Schedule-Tag", "WWW-Authenticate"}

func (x *exchange) render(t *testing.T, resp *http.Response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %s\n", resp.Status)
	for _, k := range shownHeaders {
		if v := resp.Header.Get(k); v != "" {
			if k == "Last-Modified" || k == "Expires" {
				v = "DATE"
			}
			fmt.Fprintf(&b, "%s: %s\n", k, x.placehold(v))
		}
	}
	var rd io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		rd = gz
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > 0 {
		b.WriteString("\n")
		b.WriteString(x.renderBody(t, resp.Header.Get("Content-Type"), x.placehold(csDTStampRE.ReplaceAllString(string(body), "<CS:dtstamp>DATE</CS:dtstamp>"))))
	}
	return b.String()
}

func (x *exchange) renderBody(t *testing.T, ct, body string) string {
	if strings.Contains(ct, "xml") {
		c, err := canonicalXML(body)
		if err != nil {
			t.Fatalf("response is not XML: %v\n%s", err, body)
		}
		return c
	}
	body = strings.ReplaceAll(body, "\r\n", "\n")
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	return dtstampRE.ReplaceAllStringFunc(body, func(v string) string {
		if t, err := time.Parse("DTSTAMP:20060102T150405Z", v); err == nil && time.Since(t).Abs() < time.Hour {
			return "DTSTAMP:NOW" // stamped by the server as it answered
		}
		return v
	})
}

// csDTStampRE finds the time stamps of CalendarServer notifications.
var csDTStampRE = regexp.MustCompile(`<CS:dtstamp>\d{8}T\d{6}Z</CS:dtstamp>`)

// dtstampRE finds DTSTAMPs in bodies; the ones the server stamps with the
// current time (free-busy answers) read DTSTAMP:NOW in golden files.
var dtstampRE = regexp.MustCompile(`DTSTAMP:\d{8}T\d{6}Z`)

// normalize brings a golden response into the form render produces, so
// hand-written XML may use any prefixes and layout.
func (x *exchange) normalize(t *testing.T, want string) string {
	head, body, ok := strings.Cut(want, "\n\n")
	if !ok {
		return want
	}
	ct := ""
	for _, l := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "Content-Type") {
			ct = v
		}
	}
	return head + "\n\n" + x.renderBody(t, ct, body)
}

var (
	etagRE  = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
	tokenRE = regexp.MustCompile(regexp.QuoteMeta(engine.SyncTokenPrefix) + `[^<"\s/]+/[0-9a-f]{32}`)
	linkRE  = regexp.MustCompile(`/pub/[A-Za-z0-9_-]{43}\.`)
	// WebDAV-Push registration ids and topics are random per store.
	pushIDRE = regexp.MustCompile(`/dav/push/[A-Za-z0-9_-]{22}\b`)
	topicRE  = regexp.MustCompile(`topic(?: [^>]*)?>[A-Za-z0-9_-]{22}<`)
)

// placehold replaces ETags, sync tokens and public link tokens with
// stable names (ETAG1, TOKEN1, LINK1, …) in order of appearance; requests
// may use the names.
func (x *exchange) placehold(s string) string {
	s = tokenRE.ReplaceAllStringFunc(s, func(v string) string { return x.name("TOKEN", v) })
	s = linkRE.ReplaceAllStringFunc(s, func(v string) string { return "/pub/" + x.name("LINK", v[len("/pub/"):len(v)-1]) + "." })
	s = pushIDRE.ReplaceAllStringFunc(s, func(v string) string { return pushPrefix + x.name("REG", v[len(pushPrefix):]) })
	s = topicRE.ReplaceAllStringFunc(s, func(v string) string {
		i := strings.IndexByte(v, '>') + 1
		return v[:i] + x.name("TOPIC", v[i:len(v)-1]) + "<"
	})
	// ETags are 32 hex digits (the seq encrypted).
	return etagRE.ReplaceAllStringFunc(s, func(v string) string { return x.name("ETAG", v) })
}

func (x *exchange) name(kind, v string) string {
	if ph, ok := x.holders[v]; ok {
		return ph
	}
	x.count[kind]++
	ph := kind + strconv.Itoa(x.count[kind])
	x.holders[v], x.real[ph] = ph, v
	return ph
}

// testPush enables WebDAV-Push in exchanges ("push" in setup) with a
// fixed VAPID key; it refuses push resources on push.invalid.
type testPush struct{}

// testVAPIDKey is RFC 8292 §2.4's example public key.
const testVAPIDKey = "BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs"

func (testPush) VAPIDPublicKey() string { return testVAPIDKey }

func (testPush) CheckEndpoint(u string) error {
	if strings.Contains(u, "push.invalid") {
		return errors.New("push.invalid is a private address")
	}
	return nil
}

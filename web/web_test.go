package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/crypto/bcrypt"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
)

// now is the test clock's time: the agenda's window starts that day.
var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type app struct {
	h   *Handler
	db  *engine.DB
	srv *httptest.Server
}

var meta = engine.Meta{Actor: "test", UserAgent: "test", RequestID: "t"}

// mustApp serves a web app over an in-memory engine with users alice,
// bob (passwords "<name>-pw") and root (an admin).
func mustApp(t testing.TB, opts Options) *app {
	t.Helper()
	db, err := engine.Open("db", &engine.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, u := range []string{"alice", "bob", "root"} {
		// bcrypt's least cost: sign-ins take a millisecond, not 70 (the
		// race detector makes that seconds).
		hash, err := bcrypt.GenerateFromPassword([]byte(u+"-pw"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		role := engine.RoleUser
		if u == "root" {
			role = engine.RoleAdmin
		}
		if err := db.AddUser(context.Background(), meta, engine.User{Name: u, PasswordHash: string(hash), Role: role}); err != nil {
			t.Fatal(err)
		}
		if err := dav.EnsureHome(context.Background(), db, u, meta); err != nil {
			t.Fatal(err)
		}
	}
	if opts.Auth == nil {
		v, err := auth.New(auth.Options{DB: db, MaxFailures: 3})
		if err != nil {
			t.Fatal(err)
		}
		opts.Auth = v
	}
	opts.DB = db
	if opts.Clock == nil {
		opts.Clock = func() time.Time { return now }
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &app{h: h, db: db, srv: srv}
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	t    *testing.T
	a    *app
	c    *http.Client
	csrf string
}

func (a *app) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, a: a, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches path and returns the status and body; it remembers the
// page's CSRF token.
func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.a.srv.URL + path)
	return resp.StatusCode, b.read(resp, err)
}

// read returns resp's body (failing the test on err) and remembers the
// page's CSRF token.
func (b *browser) read(resp *http.Response, err error) string {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return string(body)
}

// post submits a form with the remembered CSRF token (unless the form
// sets "csrf" itself).
func (b *browser) post(path string, form url.Values) (int, string, *http.Response) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	resp, err := b.c.PostForm(b.a.srv.URL+path, form)
	body := b.read(resp, err)
	return resp.StatusCode, body, resp
}

// signIn signs in as user and loads the calendars page.
func (b *browser) signIn(user string) {
	b.t.Helper()
	b.get("/login")
	code, body, _ := b.post("/login", url.Values{"name": {user}, "password": {user + "-pw"}})
	if code != http.StatusSeeOther {
		b.t.Fatalf("sign in as %s: %d\n%s", user, code, body)
	}
	if code, _ := b.get("/calendars"); code != 200 {
		b.t.Fatalf("calendars after sign-in: %d", code)
	}
}

func ics(uid, summary, extra string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260303T100000Z\r\nDTEND:20260303T110000Z\r\nSUMMARY:" + summary +
		"\r\n" + extra + "END:VEVENT\r\nEND:VCALENDAR\r\n")
}

func (a *app) put(t *testing.T, user, coll, name string, body []byte) {
	t.Helper()
	if _, err := a.db.PutObject(context.Background(), meta, "/dav/home/"+user+"/"+coll+"/", name, body, engine.PutOptions{ContentType: "text/calendar"}); err != nil {
		t.Fatal(err)
	}
}

// TestSignIn: / sends a stranger to the sign-in page; a wrong password is
// 401 with the form again; the right one makes a session and every page
// renders; sign out ends it (the old cookie opens nothing).
func TestSignIn(t *testing.T) {
	a := mustApp(t, Options{})
	b := a.browser(t)
	resp, err := b.c.Get(a.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("GET / without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	b.get("/login")
	if code, body, _ := b.post("/login", url.Values{"name": {"alice"}, "password": {"nope"}}); code != 401 || !strings.Contains(body, "Wrong name or password") {
		t.Fatalf("wrong password: %d", code)
	}
	b.signIn("alice")
	for _, p := range []string{"/calendars", "/calendars?deleted", "/agenda", "/delegates", "/devices", "/history?c=calendar", "/history?c=calendar&o=x.ics"} {
		if code, body := b.get(p); code != 200 || !strings.Contains(body, "Sign out") {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	if code, _ := b.get("/manage/users"); code != 404 {
		t.Errorf("a user's /manage/users: %d, want 404", code)
	}
	u, _ := url.Parse(a.srv.URL)
	old := b.c.Jar.Cookies(u)
	if code, _, _ := b.post("/logout", nil); code != http.StatusSeeOther {
		t.Fatalf("sign out: %d", code)
	}
	b.c.Jar.SetCookies(u, old)
	resp, err = b.c.Get(a.srv.URL + "/calendars")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the signed-out cookie: %d, want a redirect to /login", resp.StatusCode)
	}
}

// TestAdminPages: an admin sees users and status, adds a user (who signs
// in), resets a password, disables a user (whose session ends at once)
// and cannot disable themselves.
func TestAdminPages(t *testing.T) {
	a := mustApp(t, Options{})
	root := a.browser(t)
	root.signIn("root")
	for _, p := range []string{"/manage/users", "/manage/status"} {
		if code, _ := root.get(p); code != 200 {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	if code, body, _ := root.post("/manage/users/create", url.Values{"name": {"carol"}, "password": {"carol-pw"}}); code != 303 {
		t.Fatalf("add carol: %d %s", code, body)
	}
	if code, _, _ := root.post("/manage/users/create", url.Values{"name": {"dave"}, "password": {""}}); code != 400 {
		t.Errorf("add with an empty password: %d, want 400", code)
	}
	carol := a.browser(t)
	carol.signIn("carol")
	bob := a.browser(t)
	bob.signIn("bob")
	root.get("/manage/users")
	if code, _, _ := root.post("/manage/users/disable", url.Values{"name": {"bob"}}); code != 303 {
		t.Fatalf("disable bob: %d", code)
	}
	if code, _ := bob.get("/calendars"); code != http.StatusSeeOther {
		t.Errorf("disabled bob's session: %d, want a redirect to sign in", code)
	}
	if code, _, _ := root.post("/manage/users/disable", url.Values{"name": {"root"}}); code != 409 {
		t.Errorf("disabling oneself: %d, want 409", code)
	}
	if code, _, _ := root.post("/manage/users/password", url.Values{"name": {"carol"}, "password": {"new-pw"}}); code != 303 {
		t.Fatalf("reset carol's password: %d", code)
	}
	if code, _ := carol.get("/calendars"); code != http.StatusSeeOther {
		t.Errorf("carol's session after a reset: %d, want it ended", code)
	}
}

// TestCSRF: a POST without the token, or with another session's, is 403
// and changes nothing; the sign-in form without its cookie is 403.
func TestCSRF(t *testing.T) {
	a := mustApp(t, Options{})
	alice := a.browser(t)
	alice.signIn("alice")
	bob := a.browser(t)
	bob.signIn("bob")
	for _, tok := range []string{"", bob.csrf, "x"} {
		code, _, _ := alice.post("/calendars/create", url.Values{"csrf": {tok}, "name": {"evil"}})
		if code != 403 {
			t.Errorf("create with token %q: %d, want 403", tok, code)
		}
	}
	if _, err := a.db.Collection("/dav/home/alice/evil/"); err == nil {
		t.Error("a forged POST created a calendar")
	}
	stranger := a.browser(t)
	if code, _, _ := stranger.post("/login", url.Values{"csrf": {"made-up"}, "name": {"alice"}, "password": {"alice-pw"}}); code != 403 {
		t.Errorf("sign-in without the form's cookie: %d, want 403", code)
	}
}

// TestSessionCookie: signing in makes a new session id whatever cookie the
// browser had (fixation); the cookie is HttpOnly, SameSite=Lax, and Secure
// when Options.Secure.
func TestSessionCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		a := mustApp(t, Options{Secure: secure})
		b := a.browser(t)
		u, _ := url.Parse(a.srv.URL)
		b.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: "planted-by-attacker", Path: "/"}})
		b.get("/login")
		_, _, resp := b.post("/login", url.Values{"name": {"alice"}, "password": {"alice-pw"}})
		var c *http.Cookie
		for _, k := range resp.Cookies() {
			if k.Name == sessionCookie {
				c = k
			}
		}
		if c == nil {
			t.Fatal("no session cookie set at sign-in")
		}
		if c.Value == "planted-by-attacker" || len(c.Value) < 40 {
			t.Errorf("session id %q: not a fresh random id", c.Value)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure || c.MaxAge <= 0 {
			t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax, Secure=%v, expiring", c, secure)
		}
		planted := a.browser(t)
		planted.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: "planted-by-attacker", Path: "/"}})
		if code, _ := planted.get("/calendars"); code != http.StatusSeeOther {
			t.Errorf("the planted id opens a session: %d", code)
		}
	}
}

// TestOtherUsersPages: nothing of bob's is reachable by alice: history,
// export, delete, undelete, import and restore of bob's calendars (or
// through "..") are 404, and bob's calendar stays.
func TestOtherUsersPages(t *testing.T) {
	a := mustApp(t, Options{})
	if _, err := a.db.CreateCollection(context.Background(), meta, engine.CollectionSpec{Path: "/dav/home/bob/private/", Kind: engine.KindCalendar, Owner: "bob"}); err != nil {
		t.Fatal(err)
	}
	a.put(t, "bob", "private", "e.ics", ics("e", "secret", ""))
	alice := a.browser(t)
	alice.signIn("alice")
	for _, p := range []string{"/history?c=private", "/sharing?c=private", "/history?c=..%2Fbob%2Fprivate", "/history?c=../bob/private", "/calendars/export?c=private",
		"/history?c=private&o=e.ics", "/history?c=calendar&o=..%2F..%2Fbob%2Fprivate%2Fe.ics"} {
		if code, body := alice.get(p); code != 404 || strings.Contains(body, "secret") {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
	for p, f := range map[string]url.Values{
		"/calendars/delete":           {"c": {"private"}},
		"/calendars/update":           {"c": {"private"}, "displayname": {"x"}},
		"/history/undelete":           {"c": {"private"}, "o": {"e.ics"}},
		"/history/restore":            {"c": {"private"}, "o": {"e.ics"}, "seq": {"1"}},
		"/history/preview":            {"c": {"private"}, "at": {"1"}},
		"/history/restore-collection": {"c": {"private"}, "seq": {"1"}},
		"/calendars/undelete":         {"c": {"../bob/private"}},
		"/sharing/grant":              {"c": {"private"}, "grantee": {"bob"}, "access": {"read"}},
		"/sharing/link":               {"c": {"private"}},
	} {
		if code, _, _ := alice.post(p, f); code != 404 {
			t.Errorf("POST %s %v: %d, want 404", p, f, code)
		}
	}
	if c, err := a.db.Collection("/dav/home/bob/private/"); err != nil || c.Props.DisplayName != "" {
		t.Errorf("bob's calendar after alice's tries: %+v, %v", c, err)
	}
}

// TestEscaping: <script> in every field a user controls — a calendar's
// name and color, an event's summary and location, an object's name, a
// device's name, a User-Agent — reaches every page escaped.
func TestEscaping(t *testing.T) {
	a := mustApp(t, Options{})
	const x = `<script>alert(1)</script>`
	ctx := context.Background()
	if _, err := a.db.CreateCollection(ctx, meta, engine.CollectionSpec{Path: "/dav/home/alice/xss/", Kind: engine.KindCalendar, Owner: "alice",
		Props: engine.Props{DisplayName: x, Description: x, Color: `red;}</style>` + x}}); err != nil {
		t.Fatal(err)
	}
	m := engine.Meta{Actor: "alice", UserAgent: x}
	if _, err := a.db.PutObject(ctx, m, "/dav/home/alice/xss/", `a"><script>b.ics`, ics("u1", x, "LOCATION:"+x+"\r\n"), engine.PutOptions{ContentType: "text/calendar"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.db.CreateAppPassword(ctx, meta, "alice", engine.AppPasswordSpec{Name: x}); err != nil {
		t.Fatal(err)
	}
	b := a.browser(t)
	b.signIn("alice")
	for _, p := range []string{"/calendars", "/agenda", "/devices", "/history?c=xss", "/history?c=xss&o=" + url.QueryEscape(`a"><script>b.ics`)} {
		code, body := b.get(p)
		if code != 200 {
			t.Errorf("GET %s: %d", p, code)
		}
		if strings.Contains(body, "<script") {
			t.Errorf("GET %s: an unescaped <script>:\n%s", p, body)
		}
		if !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("GET %s: the field is missing (want it escaped)", p)
		}
	}
}

// TestPageStates: every page renders with nothing, one and many items,
// and the error page renders for 404, 400 and 413.
func TestPageStates(t *testing.T) {
	a := mustApp(t, Options{MaxUpload: 1000})
	b := a.browser(t)
	b.signIn("alice")
	pages := []string{"/calendars", "/calendars?deleted", "/agenda", "/delegates", "/devices", "/history?c=calendar", "/sharing?c=calendar"}
	check := func(state string) {
		t.Helper()
		for _, p := range pages {
			if code, body := b.get(p); code != 200 || !strings.Contains(body, "</html>") {
				t.Errorf("%s: GET %s: %d", state, p, code)
			}
		}
	}
	// Empty: no objects, no devices; then no collections at all.
	check("empty")
	ctx := context.Background()
	a.put(t, "alice", "calendar", "one.ics", ics("one", "One", ""))
	if _, _, err := a.db.CreateAppPassword(ctx, meta, "alice", engine.AppPasswordSpec{Name: "one"}); err != nil {
		t.Fatal(err)
	}
	check("one")
	for i := range 30 {
		a.put(t, "alice", "calendar", fmt.Sprintf("m%d.ics", i), ics(fmt.Sprint("m", i), fmt.Sprint("Many ", i), "RRULE:FREQ=DAILY\r\n"))
		if _, _, err := a.db.CreateAppPassword(ctx, meta, "alice", engine.AppPasswordSpec{Name: fmt.Sprint("dev", i)}); err != nil {
			t.Fatal(err)
		}
	}
	check("many")
	code, body := b.get("/agenda")
	if code != 200 || !strings.Contains(body, "the first 500") {
		t.Errorf("agenda of 30 daily events over 30 days: %d, want the cut noted", code)
	}
	for _, p := range []string{"/calendar/nothing", "/history?c=nope"} {
		if code, body := b.get(p); code != 404 || !strings.Contains(body, "</html>") {
			t.Errorf("GET %s: %d, want the 404 page", p, code)
		}
	}
	if code, _, _ := b.post("/calendars/create", url.Values{"name": {"x"}, "color": {"not-a-color"}}); code != 400 {
		t.Errorf("a bad color: %d, want 400", code)
	}
	if code, _ := upload(t, b, "calendar", bytes.Repeat([]byte("x"), 5000)); code != 413 {
		t.Errorf("an upload over MaxUpload: %d, want 413", code)
	}
	for _, c := range []string{"calendar", "contacts"} {
		if err := a.db.DeleteCollection(ctx, meta, "/dav/home/alice/"+c+"/"); err != nil {
			t.Fatal(err)
		}
	}
	pages = pages[:4] // no calendar to show the history or sharing of
	check("no collections")
	if _, body := b.get("/calendars?deleted"); !strings.Contains(body, "Restore calendar") {
		t.Error("the deleted calendar is not offered for restore")
	}
	if code, _, _ := b.post("/calendars/undelete", url.Values{"c": {"calendar"}}); code != 303 {
		t.Fatalf("undelete the calendar: %d", code)
	}
	if c, err := a.db.Collection("/dav/home/alice/calendar/"); err != nil || c.Count != 31 {
		t.Errorf("undeleted calendar: %+v, %v; want its 31 events back", c, err)
	}
}

// upload posts an import of data into coll.
func upload(t *testing.T, b *browser, coll string, data []byte) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", b.csrf)
	mw.WriteField("c", coll)
	fw, _ := mw.CreateFormFile("file", "x.ics")
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.a.srv.URL+"/calendars/import", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestCalendarsLifecycle: create, rename and recolor, import an .ics of
// two events (twice: the second changes nothing), export it, delete it.
func TestCalendarsLifecycle(t *testing.T) {
	a := mustApp(t, Options{})
	b := a.browser(t)
	b.signIn("alice")
	if code, body, _ := b.post("/calendars/create", url.Values{"name": {"work"}, "displayname": {"Work"}, "color": {"#ff8800"}}); code != 303 {
		t.Fatalf("create: %d %s", code, body)
	}
	b.get("/calendars")
	if code, _, _ := b.post("/calendars/update", url.Values{"c": {"work"}, "displayname": {"Job"}, "color": {"#00aa00"}}); code != 303 {
		t.Fatalf("update: %d", code)
	}
	c, err := a.db.Collection("/dav/home/alice/work/")
	if err != nil || c.Props.DisplayName != "Job" || c.Props.Color != "#00aa00" {
		t.Fatalf("after update: %+v, %v", c, err)
	}
	two := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260303T100000Z\r\nSUMMARY:A\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:b\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260304T100000Z\r\nSUMMARY:B\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	if code, body := upload(t, b, "work", []byte(two)); code != 303 {
		t.Fatalf("import: %d %s", code, body)
	}
	if _, body := b.get("/calendars"); !strings.Contains(body, "Imported 2, unchanged 0.") || !strings.Contains(body, "2 items") {
		t.Errorf("after import, the page says:\n%s", body)
	}
	upload(t, b, "work", []byte(two))
	if _, body := b.get("/calendars"); !strings.Contains(body, "Imported 0, unchanged 2.") {
		t.Error("a second import of the same file changed something")
	}
	code, body := b.get("/calendars/export?c=work")
	if code != 200 || strings.Count(body, "BEGIN:VEVENT") != 2 {
		t.Errorf("export: %d\n%s", code, body)
	}
	if _, body := b.get("/agenda"); !strings.Contains(body, "Tuesday 3 March 2026") || !strings.Contains(body, ">A<") {
		t.Errorf("agenda lacks the imported events:\n%s", body)
	}
	if code, _, _ := b.post("/calendars/delete", url.Values{"c": {"work"}}); code != 303 {
		t.Fatalf("delete: %d", code)
	}
	if _, err := a.db.Collection("/dav/home/alice/work/"); err == nil {
		t.Error("deleted calendar still there")
	}
}

// TestHistoryUndo: the timeline shows who changed what with which client
// and a property diff; "restore this version" puts the first version
// back; "undelete" brings a deleted event back; a restore of the calendar
// as of a moment shows a dry run first, which changes nothing, and then
// does it.
func TestHistoryUndo(t *testing.T) {
	a := mustApp(t, Options{})
	ctx := context.Background()
	davx := engine.Meta{Actor: "alice", UserAgent: "DAVx5/4.4"}
	put := func(name string, body []byte) *engine.PutResult {
		r, err := a.db.PutObject(ctx, davx, "/dav/home/alice/calendar/", name, body, engine.PutOptions{ContentType: "text/calendar"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	v1 := put("e.ics", ics("e", "Lunch", ""))
	put("e.ics", ics("e", "Dinner", ""))
	mid := a.db.Head()
	put("f.ics", ics("f", "Gym", ""))
	if err := a.db.DeleteObject(ctx, davx, "/dav/home/alice/calendar/", "f.ics", ""); err != nil {
		t.Fatal(err)
	}
	b := a.browser(t)
	b.signIn("alice")
	_, body := b.get("/history?c=calendar&o=e.ics")
	for _, want := range []string{"- VEVENT", "SUMMARY:Lunch", "&#43; VEVENT", "SUMMARY:Dinner", "DAVx5/4.4", "Restore this version"} {
		if !strings.Contains(body, want) {
			t.Errorf("object timeline lacks %q", want)
		}
	}
	if code, _, _ := b.post("/history/restore", url.Values{"c": {"calendar"}, "o": {"e.ics"}, "seq": {fmt.Sprint(v1.Seq)}}); code != 303 {
		t.Fatalf("restore version: %d", code)
	}
	o, err := a.db.Object("/dav/home/alice/calendar/", "e.ics", true)
	if err != nil || !bytes.Contains(o.Body, []byte("SUMMARY:Lunch")) {
		t.Fatalf("after restoring the first version: %v", err)
	}
	_, body = b.get("/history?c=calendar")
	if !strings.Contains(body, "Undelete f.ics") {
		t.Fatal("collection timeline offers no undelete of f.ics")
	}
	if code, _, _ := b.post("/history/undelete", url.Values{"c": {"calendar"}, "o": {"f.ics"}}); code != 303 {
		t.Fatalf("undelete: %d", code)
	}
	if _, err := a.db.Object("/dav/home/alice/calendar/", "f.ics", false); err != nil {
		t.Fatalf("f.ics after undelete: %v", err)
	}
	// Back as it was: no version differs from the live one.
	if _, body := b.get("/history?c=calendar&o=f.ics"); !strings.Contains(body, "back after a deletion, as it was") || strings.Contains(body, "Restore this version") {
		t.Errorf("f.ics's timeline after undelete:\n%s", body)
	}
	b.get("/history?c=calendar")
	head := a.db.Head()
	code, body, _ := b.post("/history/preview", url.Values{"c": {"calendar"}, "at": {fmt.Sprint(mid)}})
	if code != 200 || !strings.Contains(body, "Dry run") || !strings.Contains(body, "delete /dav/home/alice/calendar/f.ics") {
		t.Fatalf("preview: %d\n%s", code, body)
	}
	if a.db.Head() != head {
		t.Fatal("the preview wrote events")
	}
	if code, _, _ := b.post("/history/restore-collection", url.Values{"c": {"calendar"}, "seq": {fmt.Sprint(mid)}}); code != 303 {
		t.Fatalf("restore collection: %d", code)
	}
	if _, err := a.db.Object("/dav/home/alice/calendar/", "f.ics", false); err == nil {
		t.Error("f.ics still there after restoring the calendar to before it")
	}
	o, _ = a.db.Object("/dav/home/alice/calendar/", "e.ics", true)
	if !bytes.Contains(o.Body, []byte("SUMMARY:Dinner")) {
		t.Error("e.ics is not the version it had then")
	}
}

// TestDevices: a device password is shown once on creation, works over
// DAV through the verifier, and is revoked from the page.
func TestDevices(t *testing.T) {
	a := mustApp(t, Options{})
	b := a.browser(t)
	b.signIn("alice")
	b.get("/devices")
	code, body, _ := b.post("/devices/create", url.Values{"name": {"Phone"}, "readonly": {"1"}, "collection": {"calendar"}})
	if code != 200 {
		t.Fatalf("create: %d", code)
	}
	pw := regexp.MustCompile(`ap(-[a-z2-7]{8}){4}`).FindString(body)
	if pw == "" {
		t.Fatalf("no password shown:\n%s", body)
	}
	v, _ := auth.New(auth.Options{DB: a.db})
	_, p, err := v.AuthenticateDevice(context.Background(), "alice", pw, "127.0.0.1", "x")
	if err != nil || p == nil || !p.ReadOnly || len(p.Collections) != 1 || p.Collections[0] != "/dav/home/alice/calendar/" {
		t.Fatalf("sign in with it: %+v, %v", p, err)
	}
	if _, body := b.get("/devices"); strings.Contains(body, pw) || !strings.Contains(body, "Phone") {
		t.Error("the list shows the password again, or not the device")
	}
	if code, _, _ := b.post("/devices/revoke", url.Values{"id": {p.ID}}); code != 303 {
		t.Fatalf("revoke: %d", code)
	}
	if _, _, err := v.AuthenticateDevice(context.Background(), "alice", pw, "127.0.0.2", "x"); err == nil {
		t.Error("the revoked password still signs in")
	}
}

// TestLoginRateLimited: failures count in the verifier's limiter (shared
// with DAV): past it, even the right password is 429 with Retry-After.
func TestLoginRateLimited(t *testing.T) {
	a := mustApp(t, Options{})
	b := a.browser(t)
	for range 3 {
		b.get("/login")
		b.post("/login", url.Values{"name": {"alice"}, "password": {"wrong"}})
	}
	b.get("/login")
	code, _, resp := b.post("/login", url.Values{"name": {"alice"}, "password": {"alice-pw"}})
	if code != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("after 3 failures: %d, Retry-After %q; want 429 with it", code, resp.Header.Get("Retry-After"))
	}
}

// busyAuth finds every password-hashing slot busy, as the verifier does
// under a flood of logins.
type busyAuth struct{}

func (busyAuth) Authenticate(context.Context, string, string, string) (*engine.User, error) {
	return nil, fmt.Errorf("auth: %w", &auth.BusyError{Slots: 2, Wait: 6500 * time.Millisecond})
}

// TestLoginBusy: a sign-in the verifier could not take in time is 503
// with Retry-After and a page naming the limit, not "wrong password".
func TestLoginBusy(t *testing.T) {
	a := mustApp(t, Options{Auth: busyAuth{}})
	b := a.browser(t)
	b.get("/login")
	code, body, resp := b.post("/login", url.Values{"name": {"alice"}, "password": {"alice-pw"}})
	if code != 503 || resp.Header.Get("Retry-After") != "7" || !strings.Contains(body, "all 2 password-hashing slots stayed busy for 6.5s): try again in 7 seconds") {
		t.Errorf("%d, Retry-After %q, body:\n%s\nwant 503, Retry-After 7 (the wait of 6.5s rounded up) and the limit", code, resp.Header.Get("Retry-After"), body)
	}
}

// TestSharing: alice shares a calendar with bob (who can then read it),
// an unknown grantee is 404, a bad access 400; a public link's URL is
// shown once and resolves to the calendar until revoked; stop sharing
// takes bob's access away.
func TestSharing(t *testing.T) {
	a := mustApp(t, Options{ShareAutoAccept: true})
	b := a.browser(t)
	b.signIn("alice")
	b.get("/sharing?c=calendar")
	if code, body, _ := b.post("/sharing/grant", url.Values{"c": {"calendar"}, "grantee": {"bob"}, "access": {"read"}}); code != 303 {
		t.Fatalf("grant: %d %s", code, body)
	}
	access := func() engine.Access {
		v, err := a.db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		res, err := v.Access("bob", "/dav/home/alice/calendar/")
		if err != nil {
			t.Fatal(err)
		}
		return res.Access
	}
	if got := access(); got != engine.AccessRead {
		t.Fatalf("bob's access after the grant: %v, want read", got)
	}
	if _, body := b.get("/sharing?c=calendar"); !strings.Contains(body, "<td>bob</td><td>read</td>") {
		t.Errorf("the page does not list bob's grant:\n%s", body)
	}
	if code, _, _ := b.post("/sharing/grant", url.Values{"c": {"calendar"}, "grantee": {"nobody"}, "access": {"read"}}); code != 404 {
		t.Errorf("grant to nobody: %d, want 404", code)
	}
	if code, _, _ := b.post("/sharing/grant", url.Values{"c": {"calendar"}, "grantee": {"bob"}, "access": {"owner"}}); code != 400 {
		t.Errorf("grant of owner access: %d, want 400", code)
	}
	code, body, _ := b.post("/sharing/link", url.Values{"c": {"calendar"}})
	token := regexp.MustCompile(`/pub/([A-Za-z0-9_-]{43})\.ics`).FindStringSubmatch(body)
	if code != 200 || token == nil {
		t.Fatalf("create link: %d\n%s", code, body)
	}
	v, _ := a.db.View()
	l, err := v.Link(token[1])
	v.Close()
	if err != nil || l.Path != "/dav/home/alice/calendar/" {
		t.Fatalf("the link shown: %+v, %v", l, err)
	}
	if _, body := b.get("/sharing?c=calendar"); strings.Contains(body, token[1]) || !strings.Contains(body, l.ID) {
		t.Error("the list shows the token again, or not the link")
	}
	if code, _, _ := b.post("/sharing/unlink", url.Values{"c": {"calendar"}, "id": {l.ID}}); code != 303 {
		t.Fatalf("revoke link: %d", code)
	}
	v, _ = a.db.View()
	_, err = v.Link(token[1])
	v.Close()
	if err == nil {
		t.Error("the revoked link still resolves")
	}
	if code, _, _ := b.post("/sharing/revoke", url.Values{"c": {"calendar"}, "grantee": {"bob"}}); code != 303 {
		t.Fatalf("revoke: %d", code)
	}
	if got := access(); got != engine.AccessNone {
		t.Errorf("bob's access after stop sharing: %v, want none", got)
	}
}

// fileAuth stands for an htpasswd file or a directory: it knows users the
// engine has no account of, and falls back to the engine's verifier.
type fileAuth struct {
	Authenticator
	users map[string]string // name -> password
}

func (f fileAuth) Authenticate(ctx context.Context, user, password, remote string) (*engine.User, error) {
	if pw, ok := f.users[user]; ok {
		if password != pw {
			return nil, auth.ErrBadCredentials
		}
		return &engine.User{Name: user, Role: engine.RoleUser}, nil
	}
	return f.Authenticator.Authenticate(ctx, user, password, remote)
}

// TestSignInWithoutAccount: a user of the htpasswd file or the directory
// (no engine account) signs in and uses the pages until the session's hour
// is up; an engine account deleted while signed in ends its session at once
// (it does not fall back to the sign-in's copy).
func TestSignInWithoutAccount(t *testing.T) {
	clock := now
	a := mustApp(t, Options{Clock: func() time.Time { return clock }})
	v, err := auth.New(auth.Options{DB: a.db, MaxFailures: 3})
	if err != nil {
		t.Fatal(err)
	}
	a.h.opts.Auth = fileAuth{Authenticator: v, users: map[string]string{"carol": "carol-pw"}}

	carol := a.browser(t)
	carol.signIn("carol")
	for _, page := range []string{"/calendars", "/agenda", "/history?c=calendar", "/sharing?c=calendar", "/devices"} {
		if code, body := carol.get(page); code != http.StatusOK {
			t.Errorf("carol's %s: %d\n%s", page, code, body)
		}
	}
	if _, err := a.db.Collection("/dav/home/carol/"); err != nil {
		t.Errorf("carol's home after sign-in: %v", err)
	}
	code, _, _ := carol.post("/calendars/create", url.Values{"name": {"work"}, "displayname": {"Work"}})
	if code != http.StatusSeeOther {
		t.Errorf("carol creates a calendar: %d", code)
	}
	clock = clock.Add(externalLifetime + time.Minute)
	if code, _ := carol.get("/calendars"); code != http.StatusSeeOther {
		t.Errorf("carol's session after %s: %d, want a redirect to sign in", externalLifetime, code)
	}

	alice := a.browser(t)
	alice.signIn("alice")
	if err := a.db.DeleteUser(context.Background(), meta, "alice"); err != nil {
		t.Fatal(err)
	}
	if code, _ := alice.get("/calendars"); code != http.StatusSeeOther {
		t.Errorf("a deleted account's session: %d, want a redirect to sign in", code)
	}
}

// TestDelegates: alice makes bob a read-write delegate on the page; bob's
// page says he acts for her and DAV lets him write her calendar; a
// delegate that is no user or group, alice herself, or freebusy access
// are refused and change nothing, as is a POST without the CSRF token;
// removing bob ends it.
func TestDelegates(t *testing.T) {
	a := mustApp(t, Options{})
	alice := a.browser(t)
	alice.signIn("alice")
	if code, body := alice.get("/delegates"); code != 200 || !strings.Contains(body, "No delegates.") {
		t.Fatalf("empty delegates page: %d\n%s", code, body)
	}
	for _, form := range []url.Values{
		{"delegate": {"nobody"}, "access": {"read"}},
		{"delegate": {"alice"}, "access": {"read"}},
		{"delegate": {"bob"}, "access": {"freebusy"}},
		{"delegate": {"bob"}, "access": {"owner"}},
	} {
		if code, _, _ := alice.post("/delegates/set", form); code < 400 || code >= 500 {
			t.Errorf("delegate %v: %d, want a 4xx", form, code)
		}
	}
	if code, _, _ := alice.post("/delegates/set", url.Values{"delegate": {"bob"}, "access": {"read-write"}, "csrf": {"forged"}}); code != http.StatusForbidden {
		t.Errorf("delegate without the CSRF token: %d, want 403", code)
	}
	v, _ := a.db.View()
	ps, _ := v.Proxies("alice")
	v.Close()
	if len(ps) != 0 {
		t.Fatalf("refused delegations changed something: %+v", ps)
	}
	if code, _, _ := alice.post("/delegates/set", url.Values{"delegate": {"bob"}, "access": {"read-write"}}); code != http.StatusSeeOther {
		t.Fatalf("make bob a delegate: %d", code)
	}
	if _, body := alice.get("/delegates"); !strings.Contains(body, "<td>bob</td><td>read-write</td>") {
		t.Errorf("alice's page lacks bob as a read-write delegate:\n%s", body)
	}
	bob := a.browser(t)
	bob.signIn("bob")
	if _, body := bob.get("/delegates"); !strings.Contains(body, "<td>alice</td><td>read-write</td>") {
		t.Errorf("bob's page does not say he acts for alice:\n%s", body)
	}
	v, _ = a.db.View()
	res, err := v.Access("bob", "/dav/home/alice/calendar/")
	v.Close()
	if err != nil || res.Access != engine.AccessReadWrite {
		t.Errorf("bob's access to alice's calendar as her delegate: %v %v", res.Access, err)
	}
	if code, _, _ := alice.post("/delegates/set", url.Values{"delegate": {"bob"}, "access": {"none"}}); code != http.StatusSeeOther {
		t.Fatalf("remove bob: %d", code)
	}
	if _, body := bob.get("/delegates"); !strings.Contains(body, "Nobody has made you their delegate.") {
		t.Errorf("bob still acts for alice after removal:\n%s", body)
	}
}

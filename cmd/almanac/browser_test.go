package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/almanac/almanac/dav/auth/oidcauth/oidctest"
	"github.com/almanac/almanac/engine"
)

// requireChromium returns the path of Debian's chromium. It skips the test
// when the browser is missing, except in CI (CI=true), where the browser
// test must run: .ci/run installs chromium.
func requireChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed, and CI=true: the browser test must run in CI (apt-get install chromium)")
	}
	t.Skip("browser test skipped: chromium is not installed (apt-get install chromium)")
	return ""
}

// artifactsDir is where the browser test writes screenshots of a failure:
// $ALMANAC_TEST_ARTIFACTS, else almanac-test-artifacts in the temp dir.
func artifactsDir() string {
	if d := os.Getenv("ALMANAC_TEST_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "almanac-test-artifacts")
}

// browserEvents is an .ics of two events within the next days (the
// agenda shows the next 30): one single, one weekly three times.
func browserEvents(now time.Time) string {
	day := func(d int) string { return now.AddDate(0, 0, d).UTC().Format("20060102") }
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//almanac browser test//EN\r\n" +
		"BEGIN:VEVENT\r\nUID:ferry\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:" + day(2) + "T080000Z\r\nDTEND:" + day(2) + "T093000Z\r\nSUMMARY:Ferry to the island\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:swim\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:" + day(3) + "T070000Z\r\nDTEND:" + day(3) + "T080000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Morning swim\r\nEND:VEVENT\r\n" +
		"END:VCALENDAR\r\n"
}

// TestBrowser drives the web app in headless Chromium (Debian's, through
// chromedp): sign in, create a calendar, upload an .ics, see its events
// (the weekly one expanded) in the agenda, delete an event over DAV,
// undelete it from the timeline, create an app password and use it with
// python-caldav (which reads the events and adds one), sign out, sign in
// again through the OpenID provider's "Sign in with" button, sign in as
// the admin and see the status page. A failed
// step leaves a screenshot in artifactsDir. With ALMANAC_SCREENSHOTS=DIR
// the main pages are saved there as JPEGs (docs/screenshots/ has the README's).
func TestBrowser(t *testing.T) {
	chromium := requireChromium(t)
	requirePythonModule(t, "caldav", "python3-caldav")
	op := oidctest.Start(t) // the last step signs in through it
	srv := startOIDCServer(t, op)
	dir := t.TempDir()
	icsFile := filepath.Join(dir, "trip.ics")
	if err := os.WriteFile(icsFile, []byte(browserEvents(time.Now())), 0o600); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1024, 1400),
		chromedp.UserDataDir(filepath.Join(dir, "profile")))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	defer cancelCtx()
	// The whole walk's bound, python-caldav's run (clientBound) among it:
	// chromium's start and every page on 2 cores under load 30 take
	// long, and the bound ends with the walk.
	ctx, cancel := context.WithTimeout(ctx, 2*clientBound)
	defer cancel()

	step := ""
	run := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		step = name
		if err := chromedp.Do(ctx, actions...); err != nil {
			shoot(t, ctx, name)
			t.Fatalf("%s: %v\nserver logs (tail):\n%s", name, err, tail(srv.Logs.String(), 30))
		}
	}
	text := func(name string, sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			shoot(t, ctx, name)
			t.Fatalf("%s: read %s: %v", name, sel, err)
		}
		return s
	}
	defer func() {
		if t.Failed() && step != "" {
			shoot(t, ctx, step+"-failed")
		}
	}()
	docs := os.Getenv("ALMANAC_SCREENSHOTS")
	doc := func(name string) {
		if docs == "" {
			return
		}
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(60)); err == nil { // 60: each under 150 KB
			os.WriteFile(filepath.Join(docs, "web-"+name+".jpg"), png, 0o644) // quality < 100: JPEG
		}
	}

	run("sign-in page",
		chromedp.Navigate(srv.BaseURL+"/"),
		chromedp.WaitVisible(chromedp.ID("password")))
	doc("sign-in")
	run("sign in",
		chromedp.SendKeys(chromedp.ID("name"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("setup")))

	run("create a calendar",
		chromedp.SendKeys(chromedp.ID("new-name"), "trip"),
		chromedp.SendKeys(chromedp.ID("new-dn"), "Summer trip"),
		chromedp.Submit(chromedp.ID("new-name")),
		chromedp.WaitVisible(chromedp.CSS(`section[aria-label="trip"]`)))

	// dropFlash removes the message the last step's page shows (the
	// calendar created), so that waiting for .flash waits for the page the
	// form's answer brings: a wait matched on the old page, and reading it
	// then failed as the navigation destroyed it ("Cannot find context
	// with specified id", CI under load).
	dropFlash := chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('.flash').forEach(e => e.remove())`)
	run("upload an .ics",
		chromedp.Click(chromedp.CSS(`#import-trip summary`)),
		chromedp.SetUploadFiles(chromedp.ID("f-trip"), []string{icsFile}),
		dropFlash,
		chromedp.Submit(chromedp.ID("f-trip")),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if flash := text("upload an .ics", ".flash"); !strings.Contains(flash, "Imported 2") {
		t.Fatalf("after the upload the page says %q, want Imported 2", flash)
	}
	run("QR codes", chromedp.Click(chromedp.CSS(`details.qr summary`)), chromedp.WaitVisible(chromedp.CSS(`details.qr img`)))
	doc("calendars")

	run("agenda", chromedp.Navigate(srv.BaseURL+"/agenda"), chromedp.WaitVisible(chromedp.CSS(`main`)))
	agenda := text("agenda", "main")
	if !strings.Contains(agenda, "Ferry to the island") || strings.Count(agenda, "Morning swim") != 3 {
		t.Fatalf("agenda lacks the events (want the ferry once, the swim 3 times):\n%s", agenda)
	}
	doc("agenda")

	// Delete the ferry over DAV, as a client would.
	name := objectNamed(t, srv.DB, "/dav/home/alice/trip/", "ferry")
	if resp, _ := srv.Do(t, http.MethodDelete, "/dav/home/alice/trip/"+name, "alice", ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DAV DELETE: %d", resp.StatusCode)
	}
	run("undelete from the timeline",
		chromedp.Navigate(srv.BaseURL+"/history?c=trip"),
		dropFlash,
		chromedp.Click(chromedp.Search(`//button[starts-with(normalize-space(.), "Undelete")]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	flash := text("undelete from the timeline", ".flash")
	if _, err := srv.DB.Object("/dav/home/alice/trip/", name, false); err != nil {
		t.Fatalf("the ferry after undelete (page says %q): %v", flash, err)
	}
	doc("history")

	run("create an app password",
		chromedp.Navigate(srv.BaseURL+"/devices"),
		chromedp.SendKeys(chromedp.ID("dev-name"), "python-caldav"),
		chromedp.Submit(chromedp.ID("dev-name")),
		chromedp.WaitVisible(chromedp.ID("app-password")))
	pw := strings.TrimSpace(text("create an app password", "#app-password"))
	if !regexp.MustCompile(`^ap(-[a-z2-7]{8}){4}$`).MatchString(pw) {
		t.Fatalf("app password shown: %q", pw)
	}
	doc("devices")
	out := runClient(t, srv, nil, systemPython, "testdata/webapp_apppassword.py", srv.BaseURL+"/", "alice", pw, "trip", "2")
	if !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("python-caldav with the app password:\n%s", out)
	}
	u, err := srv.DB.User("alice")
	if err != nil || len(u.AppPasswords) != 1 || u.AppPasswords[0].LastUsed.IsZero() {
		t.Errorf("the app password's use is not recorded: %+v, %v", u, err)
	}

	run("sign out",
		chromedp.Navigate(srv.BaseURL+"/calendars"),
		chromedp.Click(chromedp.CSS(`header form button`)),
		chromedp.WaitVisible(chromedp.ID("password")))
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/login") {
		t.Errorf("after signing out at %s, want /login", loc)
	}
	run("signed out stays out", chromedp.Navigate(srv.BaseURL+"/devices"), chromedp.WaitVisible(chromedp.ID("password")))
	run("sign in with the issuer",
		chromedp.Click(chromedp.CSS(`a.button[href="/login/oidc"]`)),
		chromedp.WaitVisible(chromedp.ID("setup")))
	if user := text("sign in with the issuer", "header form span"); user != "alice" {
		t.Errorf("signed in through the issuer as %q, want alice", user)
	}

	run("admin status page",
		chromedp.Click(chromedp.CSS(`header form button`)),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("setup")),
		chromedp.Navigate(srv.BaseURL+"/manage/status"),
		chromedp.WaitVisible(chromedp.ID("feed")))
	if feed, cluster := text("admin status page", "#feed"), text("admin status page", "#cluster"); feed != "0" || cluster != "single node" {
		t.Errorf("status page: feed subscribers %q, cluster %q; want 0 and single node", feed, cluster)
	}
	doc("status")
	step = ""
}

// shoot saves a screenshot of the page to artifactsDir.
func shoot(t *testing.T, ctx context.Context, name string) {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Logf("no screenshot of %q: %v", name, err)
		return
	}
	dir := artifactsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	f := filepath.Join(dir, fmt.Sprintf("%s-%s.jpg", t.Name(), strings.ReplaceAll(name, " ", "-"))) // quality < 100: JPEG
	if err := os.WriteFile(f, png, 0o644); err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	t.Logf("screenshot of the failed step: %s", f)
}

// objectNamed returns the name of the object with uid in the collection.
func objectNamed(t *testing.T, db *engine.DB, coll, uid string) string {
	t.Helper()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for o, err := range v.Objects(coll, engine.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if o.UID == uid {
			return o.Name
		}
	}
	t.Fatalf("no object with UID %s in %s", uid, coll)
	return ""
}

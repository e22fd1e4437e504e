package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/almanac/almanac/engine"
)

// auditCLIEnv is the environment of an audit command in tests: buffers for
// the streams and ALMANAC_PASSWORD set to testPassword, nothing else.
func auditCLIEnv() (*auditEnv, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	env := &auditEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(k string) string {
		if k == "ALMANAC_PASSWORD" {
			return testPassword
		}
		return ""
	}}
	return env, &out, &errOut
}

// runAuditCLI runs `almanac NAME ARGS...` in-process and returns what it
// printed on stdout and stderr.
func runAuditCLI(t *testing.T, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	fn, ok := auditCommands[name]
	if !ok {
		t.Fatalf("no audit command %q", name)
	}
	env, out, errOut := auditCLIEnv()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a bound for a loaded machine
	defer cancel()
	err = fn(ctx, env, args)
	return out.String(), errOut.String(), err
}

// mustAuditCLI is runAuditCLI that fails the test on an error.
func mustAuditCLI(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, errOut, err := runAuditCLI(t, name, args...)
	if err != nil {
		t.Fatalf("almanac %s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// objectBodies maps the object names of a live collection to their bodies.
func objectBodies(t *testing.T, db *engine.DB, path string) map[string]string {
	t.Helper()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	out := map[string]string{}
	for o, err := range v.Objects(path, engine.ListOptions{Bodies: true}) {
		if err != nil {
			t.Fatalf("list %s: %v", path, err)
		}
		out[o.Name] = string(o.Body)
	}
	return out
}

// lineReader hands out the lines a child process prints, with deadlines.
type lineReader struct {
	lines chan string
	seen  []string
}

func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{lines: make(chan string, 256)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lr.lines <- sc.Text()
		}
		close(lr.lines)
	}()
	return lr
}

// expect returns the first line starting with prefix, skipping others; it
// fails the test when the process ends or the deadline passes first.
func (lr *lineReader) expect(t *testing.T, prefix string, stderr fmt.Stringer) string {
	t.Helper()
	deadline := time.After(clientBound)
	for {
		select {
		case l, ok := <-lr.lines:
			if !ok {
				t.Fatalf("client ended before printing %q\nstdout:\n%s\nstderr:\n%s", prefix, strings.Join(lr.seen, "\n"), stderr)
			}
			lr.seen = append(lr.seen, l)
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %q from the client within %s\nstdout:\n%s\nstderr:\n%s", prefix, clientBound, strings.Join(lr.seen, "\n"), stderr)
		}
	}
}

var syncedLine = regexp.MustCompile(`^SYNCED updated=(\d+) deleted=(\d+) count=(\d+)$`)

// TestInteropRestore is a disaster and its repair as an operator lives it:
// python-caldav creates 50 events in alice's calendar and holds a sync
// token; a misbehaving client deletes 25, rewrites 10 and adds 3 through
// plain HTTP; python-caldav syncs the damage; the operator runs `almanac
// restore --as-of <time before the damage> --server ... --user admin`
// (a dry run first); python-caldav syncs again from its token and must hold
// exactly the 50 original events, as must a fresh listing. The server side
// must hold every original object under its original name, byte for byte.
func TestInteropRestore(t *testing.T) {
	t.Parallel()
	requirePythonModule(t, "caldav", "python3-caldav")
	const (
		calPath = "/dav/home/alice/calendar/"
		count   = 50
	)
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*clientBound) // one client for the whole session: its syncs, the damage and the restore
	defer cancel()
	cmd := exec.CommandContext(ctx, systemPython, "testdata/caldav_restore.py", srv.BaseURL+calPath, "alice", testPassword, fmt.Sprint(count))
	cmd.Dir = "."
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cancel()
		cmd.Wait()
	}()
	client := newLineReader(stdout)
	client.expect(t, "READY ", &stderr)

	// The moment the operator will name: after python's last write, before
	// the damage. Event times have nanosecond resolution.
	moment := time.Now().UTC().Format(time.RFC3339Nano)
	original := objectBodies(t, srv.DB, calPath)
	if len(original) != count {
		t.Fatalf("calendar holds %d objects after the client's writes, want %d", len(original), count)
	}
	names := make([]string, 0, count)
	for n := range original {
		names = append(names, n)
	}
	sort.Strings(names)

	// The misbehaving client.
	ua := "User-Agent"
	bad := "misbehaving-client/1.0"
	for _, n := range names[:25] {
		if resp, body := srv.Do(t, http.MethodDelete, calPath+n, "alice", "", ua, bad); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE %s: %s %s", n, resp.Status, body)
		}
	}
	for _, n := range names[25:35] {
		body := strings.Replace(original[n], "SUMMARY:Original", "SUMMARY:Clobbered", 1)
		body = regexp.MustCompile(`(?m)^DESCRIPTION:.*\r\n`).ReplaceAllString(body, "DESCRIPTION:overwritten\r\n")
		if body == original[n] {
			t.Fatalf("the rewrite of %s changed nothing", n)
		}
		if resp, out := srv.Do(t, http.MethodPut, calPath+n, "alice", body, "Content-Type", "text/calendar", ua, bad); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PUT %s: %s %s", n, resp.Status, out)
		}
	}
	for i := range 3 {
		body := fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bad//EN\r\nBEGIN:VEVENT\r\nUID:junk-%d\r\n"+
			"DTSTAMP:20260101T000000Z\r\nDTSTART:20260401T090000Z\r\nSUMMARY:junk\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", i)
		if resp, out := srv.Do(t, http.MethodPut, fmt.Sprintf("%sjunk-%d.ics", calPath, i), "alice", body, "Content-Type", "text/calendar", ua, bad); resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT junk: %s %s", resp.Status, out)
		}
	}

	// The well-behaved client syncs the damage.
	fmt.Fprintln(stdin, "sync")
	m := syncedLine.FindStringSubmatch(client.expect(t, "SYNCED ", &stderr))
	if m == nil || m[1] != "13" || m[2] != "25" || m[3] != "28" {
		t.Fatalf("sync of the damage: %q, want updated=13 deleted=25 count=28", client.seen[len(client.seen)-1])
	}

	// The operator: a dry run, then the restore, through the admin API.
	server := []string{"--server", srv.BaseURL, "--user", "admin"}
	head := srv.DB.Head()
	dry := mustAuditCLI(t, "restore", append([]string{calPath, "--as-of", moment, "--dry-run"}, server...)...)
	if got := srv.DB.Head(); got != head {
		t.Fatalf("dry run moved the head from %d to %d", head, got)
	}
	wantActions := map[string]int{"put": 35, "delete": 3}
	checkActions(t, dry, "would restore", wantActions)
	if got := objectBodies(t, srv.DB, calPath); len(got) != 28 {
		t.Fatalf("after the dry run the calendar holds %d objects, want the damaged 28", len(got))
	}
	out := mustAuditCLI(t, "restore", append([]string{calPath, "--as-of", moment}, server...)...)
	checkActions(t, out, "restored", wantActions)
	if diff := diffBodies(original, objectBodies(t, srv.DB, calPath)); diff != "" {
		t.Fatalf("server state after restore differs from the original:\n%s", diff)
	}

	// The client converges from its token.
	fmt.Fprintln(stdin, "check")
	m = syncedLine.FindStringSubmatch(client.expect(t, "SYNCED ", &stderr))
	if m == nil || m[1] != "35" || m[2] != "3" || m[3] != fmt.Sprint(count) {
		t.Errorf("sync after the restore: %q, want updated=35 deleted=3 count=%d", client.seen[len(client.seen)-1], count)
	}
	client.expect(t, "OK", &stderr)

	// The audit trail names the operator and the misbehaving client.
	hist := mustAuditCLI(t, "history", append([]string{calPath + names[0], "--json"}, server...)...)
	for _, want := range []string{`"user_agent": "misbehaving-client/1.0"`, `"actor": "admin"`, `"reason": "restore as of`} {
		if !strings.Contains(hist, want) {
			t.Errorf("history of %s lacks %s:\n%s", names[0], want, hist)
		}
	}
}

// checkActions asserts a restore report's headline verb and its count of
// actions per operation.
func checkActions(t *testing.T, out, verb string, want map[string]int) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	total := 0
	for _, n := range want {
		total += n
	}
	if head := fmt.Sprintf("%s the state after seq ", verb); !strings.HasPrefix(lines[0], head) || !strings.HasSuffix(lines[0], fmt.Sprintf(": %d change(s)", total)) {
		t.Fatalf("report headline %q, want %q... %d change(s)\n%s", lines[0], head, total, out)
	}
	got := map[string]int{}
	for _, l := range lines[1:] {
		op, _, _ := strings.Cut(strings.TrimSpace(l), " ")
		got[op]++
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("actions per op = %v, want %v\n%s", got, want, out)
	}
}

// diffBodies lists the names whose bodies differ between want and got.
func diffBodies(want, got map[string]string) string {
	var b strings.Builder
	for n, w := range want {
		g, ok := got[n]
		switch {
		case !ok:
			fmt.Fprintf(&b, "missing %s\n", n)
		case g != w:
			fmt.Fprintf(&b, "%s differs:\n--- want\n%s--- got\n%s", n, w, g)
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			fmt.Fprintf(&b, "extra %s\n", n)
		}
	}
	return b.String()
}

// TestInteropRestoreVdirsyncer: vdirsyncer mirrors alice's calendar and
// address book into local vdirs; a misbehaving client deletes and rewrites
// items of both; vdirsyncer carries the damage into the vdirs; the
// operator restores alice's whole home with `almanac restore
// /dav/home/alice/ --as-of SEQ --server`; the next vdirsyncer sync must
// bring both vdirs back to the original items, content included.
func TestInteropRestoreVdirsyncer(t *testing.T) {
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
	f, err := os.Create(conf)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := template.Must(template.ParseFiles("testdata/vdirsyncer.conf.tmpl"))
	if err := tmpl.Execute(f, map[string]string{"Dir": dir, "BaseURL": srv.BaseURL, "Password": testPassword}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	env := []string{"HOME=" + filepath.Join(dir, "home"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "home"), "LC_ALL=C.UTF-8"}
	vdir := func(args ...string) string {
		return runClient(t, srv, env, bin, append([]string{"-c", conf}, args...)...)
	}

	var calUIDs, cardUIDs []string
	for i := range 12 {
		uid := fmt.Sprintf("ev-%02d@vdir", i)
		calUIDs = append(calUIDs, uid)
		cliPut(t, srv, "alice", fmt.Sprintf("%sev-%02d.ics", vdirCalendar, i), vdirEvent(uid, fmt.Sprintf("Event %02d", i)))
	}
	for i := range 6 {
		uid := fmt.Sprintf("card-%02d@vdir", i)
		cardUIDs = append(cardUIDs, uid)
		cliPut(t, srv, "alice", fmt.Sprintf("%scard-%02d.vcf", vdirContacts, i), vdirCard(uid, fmt.Sprintf("Person%02d", i)))
	}
	vdir("discover")
	vdir("sync")
	checkVdirAgree(t, srv, dir, calUIDs, cardUIDs)
	moment := srv.DB.Head()
	origCal, origCards := serverContents(t, srv, vdirCalendar), serverContents(t, srv, vdirContacts)

	for i := range 5 {
		cliDelete(t, srv, "alice", fmt.Sprintf("%sev-%02d.ics", vdirCalendar, i))
	}
	for i := 5; i < 8; i++ {
		cliPut(t, srv, "alice", fmt.Sprintf("%sev-%02d.ics", vdirCalendar, i), vdirEvent(fmt.Sprintf("ev-%02d@vdir", i), "garbage"))
	}
	cliDelete(t, srv, "alice", vdirContacts+"card-00.vcf")
	cliDelete(t, srv, "alice", vdirContacts+"card-01.vcf")
	cliPut(t, srv, "alice", vdirContacts+"card-02.vcf", vdirCard("card-02@vdir", "Garbage"))
	cliPut(t, srv, "alice", vdirCalendar+"junk.ics", vdirEvent("junk@vdir", "junk"))
	vdir("sync")
	if got := vdirContents(t, filepath.Join(dir, "calendar")); len(got) != 8 || !strings.Contains(got["ev-05@vdir"], "SUMMARY:garbage") {
		t.Fatalf("the damage did not reach the local calendar: %d items", len(got))
	}

	out := mustAuditCLI(t, "restore", "/dav/home/alice/", "--as-of", fmt.Sprint(moment), "--server", srv.BaseURL, "--user", "admin")
	checkActions(t, out, "restored", map[string]int{"put": 11, "delete": 1})
	vdir("sync")
	checkVdirAgree(t, srv, dir, calUIDs, cardUIDs)
	if diff := cmp.Diff(origCal, vdirContents(t, filepath.Join(dir, "calendar"))); diff != "" {
		t.Errorf("local calendar after restore and sync (-original +local):\n%s", diff)
	}
	if diff := cmp.Diff(origCards, vdirContents(t, filepath.Join(dir, "contacts"))); diff != "" {
		t.Errorf("local contacts after restore and sync (-original +local):\n%s", diff)
	}
}

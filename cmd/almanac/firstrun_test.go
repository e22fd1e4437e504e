package main

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
)

// bootMain starts `almanac serve` in-process on dir with the environment
// env and extra flags, as a first start would (with the first-run admin),
// and returns it with its log output. t.Cleanup closes it.
func bootMain(t *testing.T, dir string, env map[string]string, flags ...string) (*Main, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	m := NewMain()
	m.Getenv = testGetenv(env, flags...)
	m.Stdout, m.LogOutput = logs, logs
	m.Program = "bin/almanac"
	args := append([]string{"--listen=127.0.0.1:0", "--data=" + dir}, flags...)
	if err := m.ParseFlags(append(args, hookTestFlags(flags)...)); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("serve: %v\n%s", err, logs)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m, logs
}

// propfindAs sends a Depth 0 PROPFIND of /dav/ to m with Basic
// credentials and returns the status.
func propfindAs(t *testing.T, m *Main, user, password string) int {
	t.Helper()
	return propfindStatus(t, "http://"+m.Addr()+"/dav/", user, password)
}

// propfindStatus sends a Depth 0 PROPFIND of url with Basic credentials
// and returns the status.
func propfindStatus(t *testing.T, url, user, password string) int {
	t.Helper()
	req, _ := http.NewRequest("PROPFIND", url, nil)
	req.Header.Set("Depth", "0")
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var printedPassword = regexp.MustCompile(`(?m)^  password: ([A-Z2-7]+)$`)

// TestFirstRunAdmin: serve on an empty data directory creates "admin"
// (role admin, by an event of the first-run actor) and prints its
// generated password once, with the URL and how to add users; the
// password signs in over DAV. A later start prints nothing and, once the
// admin is deleted, does not recreate it.
func TestFirstRunAdmin(t *testing.T) {
	t.Parallel() // its own data directory (and servers on free ports): it shares nothing with other tests
	dir := t.TempDir()
	m, logs := bootMain(t, dir, nil)
	out := logs.String()
	match := printedPassword.FindStringSubmatch(out)
	if match == nil {
		t.Fatalf("no password printed:\n%s", out)
	}
	pw := match[1]
	if len(pw) < 20 {
		t.Errorf("password %q: %d characters, want at least 20", pw, len(pw))
	}
	for _, want := range []string{"URL:      http://" + m.Addr() + "/", "user:     admin", "bin/almanac user add NAME --data " + dir} {
		if !strings.Contains(out, want) {
			t.Errorf("first-run block lacks %q:\n%s", want, out)
		}
	}
	if got := propfindAs(t, m, "admin", pw); got != http.StatusMultiStatus {
		t.Errorf("PROPFIND as admin with the printed password: %d, want 207", got)
	}
	if got := propfindAs(t, m, "admin", pw+"x"); got != http.StatusUnauthorized {
		t.Errorf("PROPFIND with a wrong password: %d, want 401", got)
	}
	u, err := m.DB.User("admin")
	if err != nil || u.Role != engine.RoleAdmin {
		t.Fatalf("admin account: %+v, %v", u, err)
	}
	v, err := m.DB.View()
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range v.Log(1) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.User != nil && ev.Actor != firstRunActor {
			t.Errorf("account event by %q, want %q", ev.Actor, firstRunActor)
		}
	}
	v.Close()
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	m, logs = bootMain(t, dir, nil)
	if strings.Contains(logs.String(), "First run") || printedPassword.MatchString(logs.String()) {
		t.Errorf("second start printed the first-run block:\n%s", logs)
	}
	if got := propfindAs(t, m, "admin", pw); got != http.StatusMultiStatus {
		t.Errorf("after a restart, PROPFIND as admin: %d, want 207", got)
	}
	if err := m.DB.DeleteUser(context.Background(), engine.Meta{Actor: "test"}, "admin"); err != nil {
		t.Fatal(err)
	}
	m.Close(context.Background())

	m, logs = bootMain(t, dir, nil)
	if _, err := m.DB.User("admin"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("deleted admin recreated on restart (err %v):\n%s", err, logs)
	}
}

// TestFirstRunAdminFromEnv: with ALMANAC_ADMIN_PASSWORD the admin gets that
// password and nothing secret is printed.
func TestFirstRunAdminFromEnv(t *testing.T) {
	t.Parallel() // its own data directory (and servers on free ports): it shares nothing with other tests
	const pw = "correct horse battery staple"
	m, logs := bootMain(t, t.TempDir(), map[string]string{adminPasswordEnv: pw})
	if strings.Contains(logs.String(), pw) || printedPassword.MatchString(logs.String()) {
		t.Errorf("a password was printed:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "First run") {
		t.Errorf("no first-run block:\n%s", logs)
	}
	if got := propfindAs(t, m, "admin", pw); got != http.StatusMultiStatus {
		t.Errorf("PROPFIND as admin with ALMANAC_ADMIN_PASSWORD: %d, want 207", got)
	}
}

// TestFirstRunHtpasswd: with --htpasswd the users come from the file and
// no admin is made.
func TestFirstRunHtpasswd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	m, logs := bootMain(t, t.TempDir(), nil, "--htpasswd="+file)
	if _, err := m.DB.User("admin"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("admin created beside --htpasswd (err %v):\n%s", err, logs)
	}
}

func TestProgramName(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ arg0, want string }{
		{"almanac", "almanac"},
		{"bin/almanac", "bin/almanac"},
		{"./almanac", "./almanac"},
		{filepath.Join(wd, "bin", "almanac"), filepath.Join("bin", "almanac")},
		{filepath.Join(wd, "almanac"), "./almanac"},
		{filepath.Join(os.TempDir(), "go-build123", "b001", "exe", "almanac"), "almanac"},
		{"/usr/local/bin/almanac", "/usr/local/bin/almanac"},
	} {
		if got := programName(c.arg0); got != c.want {
			t.Errorf("programName(%q) = %q, want %q", c.arg0, got, c.want)
		}
	}
}

// TestFirstRunEndToEnd plays a newcomer's first `make run` with the real
// binary in a child process: on an empty data directory it prints the
// admin's password; with the server still running, `almanac user add bob`
// (this process, on the same --data) finds it through DATA/server.json and
// adds bob with the printed password; bob's DAV PROPFIND then works, and
// the server exits 0 on SIGINT.
func TestFirstRunEndToEnd(t *testing.T) {
	t.Parallel() // own data directory, free ports, child processes: it mostly waits (README, Test time)
	dir := t.TempDir()
	args := append([]string{"serve", "--listen=127.0.0.1:0", "--data=" + dir}, hookTestFlags(nil)...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1", adminPasswordEnv+"=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() }) // a hung child fails, not the binary
	defer timer.Stop()
	var url, pw string
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for (url == "" || pw == "") && sc.Scan() {
		line := sc.Text()
		log.WriteString(line + "\n")
		if m := printedPassword.FindStringSubmatch(line); m != nil {
			pw = m[1]
		}
		if u, ok := strings.CutPrefix(line, "  URL:      "); ok {
			url = strings.TrimSuffix(u, "/")
		}
	}
	if url == "" || pw == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("no first-run block:\n%s", log.String())
	}
	go func() {
		for sc.Scan() { // drain, so the child never blocks on stderr
		}
	}()

	admin := map[string]string{"ALMANAC_PASSWORD": pw}
	if _, _, err := runAccounts(t, admin, "bob-pw\n", "user", "add", "bob", "--data="+dir); err != nil {
		t.Fatalf("user add bob while the first-run server runs: %v", err)
	}
	if got := propfindStatus(t, url+"/dav/home/bob/", "bob", "bob-pw"); got != http.StatusMultiStatus {
		t.Errorf("bob's PROPFIND: %d, want 207", got)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGINT: %v, want exit 0", err)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
)

// runResourceCLI runs `almanac resource args...` with env and returns its
// stdout.
func runResourceCLI(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	return runShareCLI(t, env, (*shareCLI).resource, args)
}

// runShareCLI runs the shareCLI command cmd with env (stdin empty) and
// returns its stdout.
func runShareCLI(t *testing.T, env map[string]string, cmd func(*shareCLI, context.Context, []string) error, args []string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &shareCLI{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(k string) string { return env[k] }}
	err := cmd(c, context.Background(), args)
	return out.String(), err
}

// TestResourceServing: while a server runs on the data directory,
// `almanac resource` adds, lists, changes and removes a room through its
// admin API (POST /admin/resources) and the room answers at once: its
// home exists and its managers get the delegation. The API refuses a
// request without credentials (401), of a user who is not an admin
// (403), of an unknown operation or room type (400), for a resource that
// does not exist (404), one that is a user (409), and a body over its
// bound (413). `user passwd` of the room or of no account is refused
// before its prompt through the server too.
func TestResourceServing(t *testing.T) {
	srv := startServer(t)
	if err := srv.DB.PutGroup(context.Background(), cliMeta("test"), engine.Group{Name: "facilities", Members: []string{"alice"}}); err != nil {
		t.Fatal(err)
	}
	admin := map[string]string{"ALMANAC_PASSWORD": testPassword}
	data := "--data=" + srv.DataDir
	if _, err := runResourceCLI(t, admin, "add", "room1", "--type", "room", "--email", "room1@example.org",
		"--managers", "facilities", "--display-name", "Room 1", data); err != nil {
		t.Fatalf("resource add while serving: %v", err)
	}
	v, err := srv.DB.View()
	if err != nil {
		t.Fatal(err)
	}
	_, errCal := v.Collection("/dav/home/room1/calendar/")
	ps, errPs := v.Proxies("room1")
	v.Close()
	if errCal != nil || errPs != nil || len(ps) != 1 || ps[0].Delegate != "facilities" || ps[0].Access != engine.AccessReadWrite {
		t.Fatalf("room1 after add: calendar %v, delegates %+v %v", errCal, ps, errPs)
	}
	out, err := runResourceCLI(t, admin, "list", "--server", srv.BaseURL, "--as", "admin")
	if want := "room1\troom\taccept-if-free\tmanagers=facilities\troom1@example.org\tRoom 1\n"; err != nil || out != want {
		t.Fatalf("list through --server: %q, %v; want %q", out, err, want)
	}
	// `user passwd` of a room through the server is refused before the
	// prompt: stdin is empty, so a prompt would fail on reading it.
	for _, target := range [][]string{{"--server", srv.BaseURL, "--as", "admin"}, {data}} {
		var out bytes.Buffer
		c := &userCLI{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(k string) string { return admin[k] }}
		err := c.run(context.Background(), append([]string{"passwd", "room1"}, target...))
		if err == nil || !strings.Contains(err.Error(), "is a resource") {
			t.Errorf("user passwd room1 %s, no input: %v, want refused as a resource before the prompt\n%s", target, err, out.String())
		}
		err = c.run(context.Background(), append([]string{"passwd", "nobody"}, target...))
		if err == nil || !strings.Contains(err.Error(), `no user "nobody"`) {
			t.Errorf("user passwd nobody %s, no input: %v, want no user before the prompt\n%s", target, err, out.String())
		}
	}
	// The check changes nothing: alice keeps her password.
	if resp, body := srv.Do(t, "POST", "/admin/users/password", "admin", `{"name":"alice","check":true}`, "Content-Type", "application/json"); resp.StatusCode != http.StatusOK {
		t.Errorf("check of alice: %d %s", resp.StatusCode, body)
	}
	if resp, body := srv.Do(t, "PROPFIND", "/dav/home/alice/", "alice", "", "Depth", "0"); resp.StatusCode != http.StatusMultiStatus {
		t.Errorf("alice after the check: %d %s", resp.StatusCode, body)
	}
	if _, err := runResourceCLI(t, admin, "set", "room1", "--manual", "--no-managers", data); err != nil {
		t.Fatalf("resource set while serving: %v", err)
	}
	u, err := srv.DB.User("room1")
	if err != nil || u.Resource.AutoSchedule != engine.AutoManual || u.Resource.Managers != "" {
		t.Fatalf("room1 after set: %+v, %v", u, err)
	}

	post := func(user, body string) (int, string) {
		resp, b := srv.Do(t, "POST", "/admin/resources", user, body, "Content-Type", "application/json")
		return resp.StatusCode, b
	}
	for _, tc := range []struct {
		name, user, body string
		want             int
	}{
		{"NoCredentials", "", `{"op":"resource-list"}`, http.StatusUnauthorized},
		{"NotAdmin", "alice", `{"op":"resource-list"}`, http.StatusForbidden},
		{"NotAdminAdd", "bob", `{"op":"resource-add","name":"car","type":"resource"}`, http.StatusForbidden},
		{"UnknownOp", "admin", `{"op":"resource-grow","name":"room1"}`, http.StatusBadRequest},
		{"BadType", "admin", `{"op":"resource-add","name":"car","type":"boat"}`, http.StatusBadRequest},
		{"NoType", "admin", `{"op":"resource-add","name":"car"}`, http.StatusBadRequest},
		{"BadPolicy", "admin", `{"op":"resource-set","name":"room1","policy":"maybe"}`, http.StatusBadRequest},
		{"NoSuchResource", "admin", `{"op":"resource-remove","name":"room9"}`, http.StatusNotFound},
		{"NoSuchGroup", "admin", `{"op":"resource-set","name":"room1","managers":"nobody"}`, http.StatusNotFound},
		{"AUser", "admin", `{"op":"resource-set","name":"bob","policy":"manual"}`, http.StatusConflict},
		{"Exists", "admin", `{"op":"resource-add","name":"alice","type":"room"}`, http.StatusConflict},
		{"TooLarge", "admin", `{"op":"resource-add","name":"car","type":"resource","display_name":"` + strings.Repeat("x", 65<<10) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, body := post(tc.user, tc.body); got != tc.want {
				t.Errorf("status %d, want %d: %s", got, tc.want, body)
			}
		})
	}
	if _, err := srv.DB.User("car"); err == nil {
		t.Error("a refused request added the resource car")
	}

	code, body := post("admin", `{"op":"resource-remove","name":"room1"}`)
	if code != http.StatusOK {
		t.Fatalf("remove: %d %s", code, body)
	}
	code, body = post("admin", `{"op":"resource-list"}`)
	var res audit.ResourceResult
	if code != http.StatusOK || json.Unmarshal([]byte(body), &res) != nil || len(res.Resources) != 0 {
		t.Errorf("list after remove: %d %s", code, body)
	}
}

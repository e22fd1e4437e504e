package audit

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
)

// TestAdminAccounts drives the account endpoints of the admin API with the
// Client: each refusal gets its status (400 bad password, 404 unknown
// user, 409 existing user or the admin's own account, 413 a body over
// 64 KiB), a disabled account is marked in the list, and no answer
// carries a password hash or a token secret.
func TestAdminAccounts(t *testing.T) {
	db := mustOpen(t)
	tokens := 0
	maker := func(label string, now time.Time) (engine.APIToken, string, error) {
		tokens++
		id := strings.Repeat("t", tokens)
		return engine.APIToken{ID: id, SecretSHA256: "hash-of-" + id, Label: label, Created: now}, id + ".SECRET", nil
	}
	srv := httptest.NewServer(&Admin{DB: db, Auth: fakeAuth{"admin": engine.RoleAdmin}, NewToken: maker})
	defer srv.Close()
	c := &Client{Server: srv.URL, User: "admin", Password: "secret"}

	if err := c.AddUser(ctx, "bob", "pw", false); err != nil {
		t.Fatal(err)
	}
	if err := c.AddUser(ctx, "bob", "pw", false); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("adding bob twice: %v, want 409", err)
	}
	for _, pw := range []string{"", strings.Repeat("x", 73)} {
		if err := c.AddUser(ctx, "carol", pw, false); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("password of %d bytes: %v, want 400", len(pw), err)
		}
	}
	if err := c.SetPassword(ctx, "nobody", "pw"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("passwd of an unknown user: %v, want 404", err)
	}
	if err := c.SetDisabled(ctx, "admin", true); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("disabling oneself: %v, want 409", err)
	}
	if err := c.DeleteUser(ctx, "admin"); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("deleting oneself: %v, want 409", err)
	}
	if err := c.SetDisabled(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, "bob", "ci")
	if err != nil || tok.Token != "t.SECRET" || tok.ID != "t" {
		t.Fatalf("create token: %+v, %v", tok, err)
	}
	users, err := c.Users(ctx)
	if err != nil || len(users) != 1 || !users[0].Disabled || len(users[0].Tokens) != 1 || users[0].Tokens[0].Label != "ci" {
		t.Fatalf("users = %+v, %v", users, err)
	}
	u, _ := db.User("bob")
	if u.PasswordHash == "" || !strings.HasPrefix(u.PasswordHash, "$2") {
		t.Fatalf("stored hash %q", u.PasswordHash)
	}
	var raw []byte
	if err := c.do(ctx, http.MethodGet, "/admin/users", nil, nil, &raw); err != nil {
		t.Fatal(err)
	}
	if s := string(raw); strings.Contains(s, u.PasswordHash) || strings.Contains(s, "hash-of-") || strings.Contains(s, "SECRET") {
		t.Errorf("GET /admin/users reveals a secret:\n%s", s)
	}
	if err := c.RevokeToken(ctx, "bob", "nope"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("revoking an unknown token: %v, want 404", err)
	}

	if got := postAsAdmin(t, srv.URL+"/admin/users", `{"name":"dan","password":"`+strings.Repeat("x", 70<<10)+`"}`); got != http.StatusRequestEntityTooLarge {
		t.Errorf("70 KiB account body: %d, want 413", got)
	}
}

// postAsAdmin posts body to url as admin:secret and returns the status.
func postAsAdmin(t *testing.T, url, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.SetBasicAuth("admin", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestClientRefusesPlainHTTP: the admin password is sent over plain HTTP
// only to a loopback address.
func TestClientRefusesPlainHTTP(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://[::1]:8080", true},
		{"http://localhost:8080", true},
		{"https://dav.example.org", true},
		{"http://dav.example.org", false},
		{"http://192.0.2.7:8080", false},
		{"ftp://127.0.0.1", false},
	} {
		err := checkTransport(c.url)
		if (err == nil) != c.ok {
			t.Errorf("checkTransport(%q) = %v, want ok=%v", c.url, err, c.ok)
		}
	}
	_, err := (&Client{Server: "http://192.0.2.7:1", User: "admin", Password: "x"}).Users(ctx)
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("Users over plain HTTP to 192.0.2.7: %v, want a refusal", err)
	}
}

// TestAdminEmails: email addresses travel through the admin API: given at
// add, added and removed after, listed; an address another user has is
// 409, a malformed one 400, removing one the user lacks 404.
func TestAdminEmails(t *testing.T) {
	db := mustOpen(t)
	srv := httptest.NewServer(&Admin{DB: db, Auth: fakeAuth{"admin": engine.RoleAdmin}})
	defer srv.Close()
	c := &Client{Server: srv.URL, User: "admin", Password: "secret"}
	if err := c.AddUser(ctx, "bob", "pw", false, "bob@Example.org", "mailto:b@x.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.AddUser(ctx, "carol", "pw", false, "B@X.TEST"); err != nil {
		t.Fatalf("B@x.test is not b@x.test (the local part's case counts): %v", err)
	}
	if err := c.AddUser(ctx, "dave", "pw", false, "b@X.test"); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("dave with bob's address: %v, want 409", err)
	}
	if err := c.SetEmails(ctx, "carol", []string{"bob@example.ORG"}, nil); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("carol adding bob's address: %v, want 409", err)
	}
	if err := c.SetEmails(ctx, "carol", []string{"not-an-address"}, nil); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("a malformed address: %v, want 400", err)
	}
	if err := c.SetEmails(ctx, "bob", nil, []string{"nope@x.test"}); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("removing an address bob lacks: %v, want 404", err)
	}
	if err := c.SetEmails(ctx, "bob", []string{"robert@example.org"}, []string{"MAILTO:b@x.test"}); err != nil {
		t.Fatal(err)
	}
	users, err := c.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, u := range users {
		got[u.Name] = strings.Join(u.Emails, " ")
	}
	if got["bob"] != "bob@example.org robert@example.org" || got["carol"] != "B@x.test" {
		t.Errorf("emails = %q", got)
	}
}

// TestEmailsWithoutAccount: a name with no account (a user of the
// htpasswd file) given addresses gets an account without a password that
// holds them, in one event; removing from a name without one is 404.
func TestEmailsWithoutAccount(t *testing.T) {
	db := mustOpen(t)
	l := &Local{DB: db, Meta: engine.Meta{Actor: "test"}}
	if err := l.SetEmails(ctx, "hank", nil, []string{"h@x.test"}); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("removing from a name without an account: %v, want ErrNotFound", err)
	}
	if err := l.SetEmails(ctx, "hank", []string{"Hank@X.test"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.SetEmails(ctx, "hank", []string{"h2@x.test"}, nil); err != nil {
		t.Fatal(err)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	u, err := v.User("hank")
	if err != nil {
		t.Fatal(err)
	}
	if u.PasswordHash != "" || u.Role != engine.RoleUser || strings.Join(u.Emails, " ") != "Hank@x.test h2@x.test" {
		t.Errorf("account = %+v, want no password, role user, two addresses", u)
	}
	if name, err := v.UserByEmail("mailto:hank@X.TEST"); err == nil || name != "" {
		// the local part's case counts
		t.Errorf("UserByEmail(hank@x.test) = %q, %v, want not found", name, err)
	}
	if name, err := v.UserByEmail("mailto:Hank@x.test"); err != nil || name != "hank" {
		t.Errorf("UserByEmail(Hank@x.test) = %q, %v, want hank", name, err)
	}
}

// TestSetPasswordRefusesFirst: a password for a resource or for a name
// without an account is refused before any hash: the refusal is the
// account's, even for a password that would be refused itself.
func TestSetPasswordRefusesFirst(t *testing.T) {
	db := mustOpen(t)
	room := engine.User{Name: "room1", Disabled: true,
		Resource: &engine.Resource{Type: engine.ResourceRoom, AutoSchedule: engine.AutoAcceptIfFree}}
	if err := db.AddUser(ctx, aliceMeta, room); err != nil {
		t.Fatal(err)
	}
	l := &Local{DB: db, Meta: aliceMeta}
	long := strings.Repeat("x", 73) // refused by hashPassword, had it run first
	if err := l.SetPassword(ctx, "room1", long); !errors.Is(err, engine.ErrInvalidName) || !strings.Contains(err.Error(), "is a resource") {
		t.Errorf("resource: %v, want ErrInvalidName naming the resource", err)
	}
	if err := l.SetPassword(ctx, "nobody", long); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("no account: %v, want ErrNotFound", err)
	}
	if err := l.SetPassword(ctx, "room1", "a-fine-password"); !errors.Is(err, engine.ErrInvalidName) {
		t.Errorf("resource, valid password: %v, want ErrInvalidName", err)
	}
}

package web

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestGroupsPage: empty, create with members, add, remove, delete; a
// group another source owns (set by ldap) is shown read-only and a change
// of it is 409; a display name with <script> is escaped; a user gets 404
// for the page and its POST.
func TestGroupsPage(t *testing.T) {
	a := mustApp(t, Options{})
	root := a.browser(t)
	root.signIn("root")
	if _, body := root.get("/manage/groups"); !strings.Contains(body, "No groups.") {
		t.Fatal("empty: no empty state")
	}
	members := func(name string) string {
		t.Helper()
		v, _ := a.db.View()
		defer v.Close()
		g, err := v.Group(name)
		if err != nil {
			return "<none>"
		}
		return strings.Join(g.Members, ",")
	}
	post := func(form url.Values, want int) {
		t.Helper()
		if code, body, _ := root.post("/manage/groups/change", form); code != want {
			t.Fatalf("%v: %d, want %d\n%s", form, code, want, body)
		}
	}
	post(url.Values{"do": {"create"}, "name": {"team"}, "displayname": {"<script>x</script>"}, "members": {"alice bob"}}, 303)
	if got := members("team"); got != "alice,bob" {
		t.Errorf("after create: %s", got)
	}
	post(url.Values{"do": {"remove"}, "name": {"team"}, "members": {"bob"}}, 303)
	post(url.Values{"do": {"add"}, "name": {"team"}, "members": {"root"}}, 303)
	if got := members("team"); got != "alice,root" {
		t.Errorf("after remove bob, add root: %s", got)
	}
	if err := a.db.PutGroup(context.Background(), engine.Meta{Actor: "ldap"}, engine.Group{Name: "staff", Members: []string{"carol"}}); err != nil {
		t.Fatal(err)
	}
	_, body := root.get("/manage/groups")
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") || !strings.Contains(body, "from ldap") {
		t.Errorf("groups page: display name unescaped or the ldap group not marked:\n%s", body)
	}
	post(url.Values{"do": {"add"}, "name": {"staff"}, "members": {"alice"}}, 409)
	post(url.Values{"do": {"delete"}, "name": {"staff"}}, 409)
	if got := members("staff"); got != "carol" {
		t.Errorf("the ldap group changed: %s", got)
	}
	alice := a.browser(t)
	alice.signIn("alice")
	if code, _ := alice.get("/manage/groups"); code != 404 {
		t.Errorf("a user's GET of the groups page: %d, want 404", code)
	}
	if code, _, _ := alice.post("/manage/groups/change", url.Values{"do": {"delete"}, "name": {"team"}}); code != 404 {
		t.Errorf("a user's delete: %d, want 404", code)
	}
	post(url.Values{"do": {"delete"}, "name": {"team"}}, 303)
	if got := members("team"); got != "<none>" {
		t.Errorf("after delete: %s", got)
	}
}

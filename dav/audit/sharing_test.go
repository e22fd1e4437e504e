package audit

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestAdminSharingErrors drives POST /admin/sharing with the Client: each
// refusal gets its status (400 an unknown operation, a bad access or a bad
// name, 404 an unknown collection or group, 409 a group that exists, 403
// more members than a group may have, 413 a body over 256 KiB).
func TestAdminSharingErrors(t *testing.T) {
	db := mustOpen(t)
	srv := httptest.NewServer(&Admin{DB: db, Auth: fakeAuth{"admin": engine.RoleAdmin}})
	defer srv.Close()
	c := &Client{Server: srv.URL, User: "admin", Password: "secret"}
	share := func(q ShareRequest) error {
		_, err := c.Share(ctx, q)
		return err
	}
	if err := share(ShareRequest{Op: OpGroupAdd, Name: "team"}); err != nil {
		t.Fatal(err)
	}
	if err := share(ShareRequest{Op: OpGroupAdd, Name: "team"}); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("adding team twice: %v, want 409", err)
	}
	for _, c := range []struct {
		q    ShareRequest
		want string
	}{
		{ShareRequest{Op: "share-everything"}, "400"},
		{ShareRequest{Op: OpShareGrant, Path: "/dav/home/alice/c/", To: "bob", Access: "all"}, "400"},
		{ShareRequest{Op: OpGroupAdd, Name: "a/b"}, "400"},
		{ShareRequest{Op: OpProxySet, Name: "alice", To: "bob", Access: "admin"}, "400"},
		{ShareRequest{Op: OpProxySet, Name: "alice", To: "bob", Access: "freebusy"}, "400"},
		{ShareRequest{Op: OpShareGrant, Path: "/dav/home/alice/c/", To: "bob", Access: "read"}, "404"},
		{ShareRequest{Op: OpGroupDelete, Name: "nobody"}, "404"},
		{ShareRequest{Op: OpShareList, Path: "/dav/home/alice/c/"}, "404"},
		{ShareRequest{Op: OpGroupMemberAdd, Name: "team", Members: make([]string, engine.MaxGroupMembers+1)}, "403"},
	} {
		if err := share(c.q); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %s", c.q.Op, err, c.want)
		}
	}

	if got := postAsAdmin(t, srv.URL+"/admin/sharing", `{"op":"group-add","name":"`+strings.Repeat("x", 300<<10)+`"}`); got != http.StatusRequestEntityTooLarge {
		t.Errorf("300 KiB sharing body: %d, want 413", got)
	}
}

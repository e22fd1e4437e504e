package audit

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestAdminBackup: POST /admin/backup writes a verified backup only to a
// new directory under --backup-dir; everywhere else (off, relative,
// outside, out through a symbolic link, over an existing directory) it is
// refused with a status and message naming why, and nothing is written.
func TestAdminBackup(t *testing.T) {
	tmp := t.TempDir()
	db, err := engine.Open(filepath.Join(tmp, "data", "db"), &engine.Options{MinFreeSpace: -1, ReserveSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustCalendar(t, db)
	if _, err := db.PutObject(ctx, aliceMeta, cal, "a.ics", calObject(vevent("a", "A")), engine.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	backups, elsewhere := filepath.Join(tmp, "backups"), filepath.Join(tmp, "elsewhere")
	for _, d := range []string{backups, elsewhere} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(elsewhere, filepath.Join(backups, "link")); err != nil {
		t.Fatal(err)
	}
	auth := fakeAuth{"admin": engine.RoleAdmin, "bob": engine.RoleUser}
	on := httptestServer(t, &Admin{DB: db, Auth: auth, BackupDir: backups})
	off := httptestServer(t, &Admin{DB: db, Auth: auth})
	admin := func(url string) *Client { return &Client{Server: url, User: "admin", Password: "secret"} }

	for _, tt := range []struct {
		name, server, user, dest, want string
	}{
		{"ErrOff", off, "admin", filepath.Join(backups, "x"), "403 Forbidden: backups through the admin API are off: start the server with --backup-dir"},
		{"ErrNotAdmin", on, "bob", filepath.Join(backups, "x"), "403 Forbidden: user bob is not an admin"},
		{"ErrRelative", on, "admin", "backups/x", "400 Bad Request: backup destination \"backups/x\": want an absolute path"},
		{"ErrOutside", on, "admin", filepath.Join(elsewhere, "x"), "403 Forbidden: backup destination " + filepath.Join(elsewhere, "x") + " is outside the server's --backup-dir"},
		{"ErrDotDot", on, "admin", backups + "/../elsewhere/x", "403 Forbidden"},
		{"ErrTheDirItself", on, "admin", backups, "403 Forbidden"},
		{"ErrSymlink", on, "admin", filepath.Join(backups, "link", "x"), "403 Forbidden"},
		{"ErrNoParent", on, "admin", filepath.Join(backups, "a", "b"), "400 Bad Request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := admin(tt.server)
			c.User = tt.user
			_, err := c.Backup(ctx, tt.dest)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("backup to %s: %v, want %q", tt.dest, err, tt.want)
			}
		})
	}
	if names, _ := os.ReadDir(elsewhere); len(names) != 0 {
		t.Fatalf("refused backups wrote %v outside --backup-dir", names)
	}
	if names, _ := os.ReadDir(backups); len(names) != 1 {
		t.Fatalf("refused backups left %v in --backup-dir", names)
	}

	dest := filepath.Join(backups, "nightly")
	rep, err := admin(on).Backup(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dest != dest || rep.Head != uint64(db.Head()) || rep.Store != db.StoreID() {
		t.Fatalf("report %+v, head %d, store %s", rep, db.Head(), db.StoreID())
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("backup directory: %v %v, want mode 0700", fi, err)
	}
	got, err := VerifyBackup(ctx, dest)
	if err != nil || got.Head != rep.Head {
		t.Fatalf("VerifyBackup = %+v, %v; want head %d", got, err, rep.Head)
	}
	_, err = admin(on).Backup(ctx, dest)
	if err == nil || !strings.Contains(err.Error(), "412") || !strings.Contains(err.Error(), "a backup never overwrites") {
		t.Fatalf("backup over an existing one: %v", err)
	}
	if _, err := VerifyBackup(ctx, dest); err != nil {
		t.Fatalf("the refused backup damaged the first: %v", err)
	}
}

// httptestServer serves h for the test's duration.
func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/almanac/almanac/engine"
)

// BackupReport describes a backup, as JSON.
type BackupReport struct {
	// Dest is the backup: a data directory (the database is Dest/db) that
	// `almanac serve --data Dest` restores.
	Dest string `json:"dest"`
	// Head is the sequence number of the last event in the backup's log.
	Head uint64 `json:"head"`
	// Store is the id of the store the backup was taken from.
	Store string `json:"store"`
	// Time is when the backup was taken.
	Time time.Time `json:"time"`
}

// BackupRequest is the body of POST /admin/backup.
type BackupRequest struct {
	// Dest is an absolute path under the server's --backup-dir that does
	// not exist yet.
	Dest string `json:"dest"`
}

// Backup writes a verified backup of the database to dest, a data
// directory that must not exist and whose parent must (see backupIn).
func (l *Local) Backup(ctx context.Context, dest string) (*BackupReport, error) {
	abs, err := filepath.Abs(dest)
	if err != nil {
		return nil, fmt.Errorf("backup destination %s: %w", dest, err)
	}
	return backupIn(ctx, l.DB, filepath.Dir(abs), filepath.Base(abs))
}

// backupIn makes the directory rel inside dir (which must exist; rel's
// parent too), with mode 0700 like a data directory, through an os.Root,
// so that a symbolic link cannot lead it out of dir; syncs its parent; and
// writes the backup's database into rel/db. A destination that exists is
// engine.ErrExists. On failure nothing is left behind.
func backupIn(ctx context.Context, db *engine.DB, dir, rel string) (*BackupReport, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("backup directory: %w", err)
	}
	defer root.Close()
	dest := filepath.Join(dir, rel)
	if err := root.Mkdir(rel, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: backup destination %s (a backup never overwrites)", engine.ErrExists, dest)
		}
		return nil, fmt.Errorf("backup destination %s: %w (its parent directory must exist)", dest, err)
	}
	info, err := func() (*engine.BackupInfo, error) {
		parent, err := root.Open(filepath.Dir(rel))
		if err != nil {
			return nil, fmt.Errorf("backup destination %s: %w", dest, err)
		}
		err = parent.Sync()
		parent.Close()
		if err != nil {
			return nil, fmt.Errorf("backup destination %s: sync parent: %w", dest, err)
		}
		return db.Backup(ctx, filepath.Join(dest, "db"))
	}()
	if err != nil {
		_ = root.RemoveAll(rel)
		return nil, err
	}
	return &BackupReport{Dest: dest, Head: uint64(info.Head), Store: info.Store, Time: info.Time}, nil
}

// VerifyBackup checks the backup in the data directory dest without
// changing it: its database opens read-only, every record reads, and its
// projections equal a replay of its log.
func VerifyBackup(ctx context.Context, dest string) (*BackupReport, error) {
	info, err := engine.VerifyBackup(ctx, filepath.Join(dest, "db"), nil)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", dest, err)
	}
	return &BackupReport{Dest: dest, Head: uint64(info.Head), Store: info.Store, Time: info.Time}, nil
}

// Backup asks the server to write a backup to dest, a path on the
// server's filesystem under its --backup-dir.
func (c *Client) Backup(ctx context.Context, dest string) (*BackupReport, error) {
	var out BackupReport
	return &out, c.do(ctx, http.MethodPost, "/admin/backup", nil, BackupRequest{Dest: dest}, &out)
}

// forbiddenError is an admin request the server's configuration does not
// allow (403).
type forbiddenError struct{ error }

func (e forbiddenError) Unwrap() error { return e.error }

// backup serves POST /admin/backup: dest must be absolute and inside
// a.BackupDir, so that an admin cannot make the server write where it
// otherwise could.
func (a *Admin) backup(ctx context.Context, req BackupRequest) (*BackupReport, error) {
	if a.BackupDir == "" {
		return nil, forbiddenError{errors.New("backups through the admin API are off: start the server with --backup-dir DIR " +
			"(or run `almanac backup DEST` on the server's machine with the server stopped)")}
	}
	if !filepath.IsAbs(req.Dest) {
		return nil, badRequest(fmt.Errorf("backup destination %q: want an absolute path under %s", req.Dest, a.BackupDir))
	}
	outside := forbiddenError{fmt.Errorf("backup destination %s is outside the server's --backup-dir %s", req.Dest, a.BackupDir)}
	rel, ok := under(a.BackupDir, filepath.Clean(req.Dest))
	if !ok {
		return nil, outside
	}
	// Symbolic links: the destination's parent, resolved, must be under
	// the backup directory, resolved. backupIn's os.Root holds to that
	// even if a link changes in between.
	base, err := filepath.EvalSymlinks(a.BackupDir)
	if err != nil {
		return nil, fmt.Errorf("backup directory: %w", err)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(filepath.Clean(req.Dest)))
	if err != nil {
		return nil, badRequest(fmt.Errorf("backup destination %s: %w (its parent directory must exist)", req.Dest, err))
	}
	if _, ok := under(base, parent); !ok && parent != base {
		return nil, outside
	}
	return backupIn(ctx, a.DB, a.BackupDir, rel)
}

// under returns path relative to dir when path is strictly inside dir.
func under(dir, path string) (string, bool) {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

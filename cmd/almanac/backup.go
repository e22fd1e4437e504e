package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/almanac/almanac/dav/audit"
)

func init() {
	register(Command{
		Name:  "backup",
		Usage: "DEST " + remoteUsage + " | --verify DEST",
		Summary: "write a verified copy of the database (the whole log) to the new directory DEST; " +
			"`serve --data DEST` restores it",
		Run: func(ctx context.Context, args []string) error { return runBackup(ctx, defaultAuditEnv(), args) },
	})
}

// backuper is what `almanac backup` drives: audit.Local on a stopped
// server's data directory, audit.Client through a running server's admin
// API (which writes DEST on the server's machine, under its --backup-dir).
type backuper interface {
	Backup(ctx context.Context, dest string) (*audit.BackupReport, error)
}

var (
	_ backuper = (*audit.Local)(nil)
	_ backuper = (*audit.Client)(nil)
)

func runBackup(ctx context.Context, env *auditEnv, args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var f auditFlags
	f.register(fs)
	addOfflineMemoryBudgetFlag(fs, &f.memory)
	verify := fs.Bool("verify", false, "check the backup in DEST (read-only: it stays restorable) instead of making one")
	pos, err := parseInterspersed(fs, args, env.getenv)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
			err = fmt.Errorf("%w: %w", errUsage, err)
		}
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: want the destination DEST, got %d argument(s)", errUsage, len(pos))
	}
	dest := pos[0]
	if *verify {
		rep, err := audit.VerifyBackup(ctx, dest)
		if err != nil {
			return err
		}
		printBackup(env, "ok: verified", rep)
		return nil
	}
	absolute := func() error {
		if f.server != "" && !filepath.IsAbs(dest) {
			return fmt.Errorf("%w: the server writes DEST on its own machine: give it as an absolute path under the server's --backup-dir", errUsage)
		}
		return nil
	}
	if err := absolute(); err != nil {
		return err
	}
	b, release, err := f.open(env, "backup")
	if errors.Is(err, errDataDirInUse) && f.server == "" {
		// The local server holds the data directory: ask it, as `user`
		// does, at the address it left in DATA/server.json.
		info, ierr := readServerInfo(f.data)
		if ierr != nil {
			return fmt.Errorf("%w; to back up a running server give --server URL --user ADMIN "+
				"(the server writes DEST, which must be under its --backup-dir): no %s (%v)", err, serverInfoFile, ierr)
		}
		fmt.Fprintf(env.stderr, "a server runs on %s: asking it for the backup through its admin API at %s as %s\n",
			f.data, info.URL, f.user)
		f.server = info.URL
		b, release, err = f.open(env, "backup")
		if c, ok := b.(*audit.Client); ok && err == nil {
			c.HTTP = info.httpClient()
		}
	}
	if err != nil {
		return err
	}
	defer release()
	if err := absolute(); err != nil {
		return err
	}
	bk, ok := b.(backuper)
	if !ok {
		return fmt.Errorf("backup: %T cannot make backups", b)
	}
	rep, err := bk.Backup(ctx, dest)
	if err != nil {
		return err
	}
	printBackup(env, "ok: backup written and verified", rep)
	return nil
}

// printBackup prints what a backup holds and how to restore it.
func printBackup(env *auditEnv, what string, rep *audit.BackupReport) {
	fmt.Fprintf(env.stdout, "%s: %s\nhead seq %d", what, rep.Dest, rep.Head)
	if rep.Store != "" {
		fmt.Fprintf(env.stdout, ", store %s, taken %s", rep.Store, rep.Time.Format(time.RFC3339))
	}
	fmt.Fprintf(env.stdout, "\nrestore: almanac serve --data %s\n", rep.Dest)
}

// checkBackupDir returns serve's --backup-dir as an absolute path, or ""
// when it is not set; it must be an existing directory.
func checkBackupDir(dir string) (string, error) {
	if dir == "" {
		return "", nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", &ConfigError{Field: "backup-dir", Err: err}
	}
	fi, err := os.Stat(abs)
	if err == nil && !fi.IsDir() {
		err = errors.New("not a directory")
	}
	if err != nil {
		return "", &ConfigError{Field: "backup-dir", Err: fmt.Errorf("%s: %w", abs, err)}
	}
	return abs, nil
}

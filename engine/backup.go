package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// A backup is a Pebble checkpoint of the whole database — the log and
// every projection, the store id and the store secret, the feed cursors —
// made while the server runs: tables are hard-linked where the destination
// is on the same filesystem (copied otherwise), the write-ahead logs are
// copied, every file and directory entry is synced. Its log is a prefix of
// the source's (a group commit is one Pebble batch, so a copy ends between
// two groups) and its projections equal a replay of that prefix.
//
// A backup also carries a marker file, backupMarker, naming its source
// store and head. The first writable Open of the copy — a server started
// on it, the restore — forks it: it gets a new store id and a new store
// secret, so that nothing the source issued after the backup's head can be
// taken for state of the restored server (see forkBackup). A read-only
// Open (VerifyBackup) leaves the marker, so a backup can be checked any
// number of times and every copy of it forks on its own.

// backupMarker is the file in a backup's database directory that makes
// its first writable Open fork it. Pebble ignores files it does not know.
const backupMarker = "ALMANAC-BACKUP"

// metaRestoredFrom is the meta key a fork records its origin under (the
// marker's JSON), for operators.
const metaRestoredFrom = "restored-from"

// BackupInfo describes a backup.
type BackupInfo struct {
	// Dir is the backup's database directory.
	Dir string `json:"dir"`
	// Head is the sequence number of the last event in the backup's log.
	Head Seq `json:"head"`
	// Store is the id of the store the backup was taken from.
	Store string `json:"store"`
	// Time is when the backup was taken.
	Time time.Time `json:"time"`
}

// ErrBackupBusy is returned by Backup while another backup of the same
// database runs: a checkpoint keeps Pebble's obsolete files (and the disk
// space they take) until it ends, so one runs at a time.
var ErrBackupBusy = errors.New("engine: a backup is already running")

// Backup writes a consistent copy of the database to dir, which must not
// exist (ErrExists otherwise); missing parents are created and synced. It
// then opens the copy read-only and verifies it (VerifyBackup); a copy that
// fails is removed. Writes go on before and after, and wait while the
// checkpoint copies the write-ahead logs (the memtable is flushed first, so
// the logs hold only what came since): a log that grows while it is copied
// could be copied torn in its middle, which Pebble rightly reads as
// corruption. ctx cancels the wait for the writer and the verification. A
// second Backup while one runs gets ErrBackupBusy.
func (db *DB) Backup(ctx context.Context, dir string) (*BackupInfo, error) {
	if !db.backupMu.TryLock() {
		return nil, ErrBackupBusy
	}
	defer db.backupMu.Unlock()
	fs := db.opts.FS
	if _, err := fs.Stat(dir); err == nil {
		return nil, fmt.Errorf("%w: backup destination %s", ErrExists, dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("engine: backup destination %s: %w", dir, err)
	}
	if err := db.space.admit(0); err != nil {
		return nil, fmt.Errorf("engine: backup: %w", err)
	}
	if err := db.pdb.Flush(); err != nil {
		return nil, noSpace(fmt.Errorf("engine: backup: flush: %w", err))
	}
	taken := db.opts.Clock().UTC()
	err := db.exclusive(ctx, func() error {
		// Writes outside the writer (feed cursors, purge's log rotations)
		// wait too.
		db.walMu.Lock()
		defer db.walMu.Unlock()
		return db.pdb.Checkpoint(dir, pebble.WithFlushedWAL())
	})
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%w: backup destination %s", ErrExists, dir)
		}
		return nil, noSpace(fmt.Errorf("engine: backup to %s: %w", dir, err))
	}
	info, err := db.finishBackup(ctx, dir, taken)
	if err != nil {
		_ = fs.RemoveAll(dir)
		return nil, err
	}
	db.lastBackup.Store(&LastBackup{BackupInfo: *info, Bytes: dirBytes(fs, dir)})
	return info, nil
}

// LastBackup is the last backup a DB made (DB.LastBackup).
type LastBackup struct {
	BackupInfo
	// Bytes is what the backup's files took when it was made (a
	// checkpoint shares no files with the database once Pebble compacts
	// it); -1 when they could not be listed.
	Bytes int64
}

// LastBackup returns the last backup Backup made since the DB opened, or
// nil when none: backups are not events, and one made by `almanac backup`
// on a stopped server, or before a restart, is not known here.
func (db *DB) LastBackup() *LastBackup {
	return db.lastBackup.Load()
}

// dirBytes sums the sizes of the files in dir (a checkpoint is flat), or
// returns -1 when dir cannot be listed.
func dirBytes(fs vfs.FS, dir string) int64 {
	names, err := fs.List(dir)
	if err != nil {
		return -1
	}
	var n int64
	for _, name := range names {
		if st, err := fs.Stat(fs.PathJoin(dir, name)); err == nil && !st.IsDir() {
			n += st.Size()
		}
	}
	return n
}

// finishBackup writes the marker into a fresh checkpoint and verifies it.
func (db *DB) finishBackup(ctx context.Context, dir string, taken time.Time) (*BackupInfo, error) {
	info := &BackupInfo{Dir: dir, Store: db.storeID, Time: taken}
	data, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("engine: backup marker: %w", err)
	}
	if err := writeSynced(db.opts.FS, dir, backupMarker, data); err != nil {
		return nil, noSpace(fmt.Errorf("engine: backup marker: %w", err))
	}
	// The copy opens with this database's memory budgets: two stores,
	// their caches and the check's replay, are open at once.
	got, err := VerifyBackup(ctx, dir, &Options{FS: db.opts.FS, Logger: db.opts.Logger, Limits: db.opts.Limits,
		CacheSize: db.opts.CacheSize, MemTableSize: db.opts.MemTableSize, ReplayMemory: db.opts.ReplayMemory})
	if err != nil {
		return nil, fmt.Errorf("engine: backup to %s: the copy does not verify: %w", dir, err)
	}
	info.Head = got.Head
	return info, nil
}

// VerifyBackup opens the backup (or any database) in dir read-only and
// checks it as DB.Verify does: every log and projection record readable,
// the projections equal to a replay of the log. It returns what the
// backup's marker says, with Head read from the log (Store and Time are
// zero for a database without a marker: one already restored). opts may
// be nil; its ReadOnly is forced on.
func VerifyBackup(ctx context.Context, dir string, opts *Options) (*BackupInfo, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.ReadOnly = true
	o.EnsureDefaults()
	info := &BackupInfo{Dir: dir}
	switch data, err := readFile(o.FS, o.FS.PathJoin(dir, backupMarker)); {
	case err == nil:
		if err := json.Unmarshal(data, info); err != nil {
			return nil, fmt.Errorf("engine: backup marker %s: %w", o.FS.PathJoin(dir, backupMarker), err)
		}
		info.Dir = dir
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("engine: backup marker: %w", err)
	}
	db, err := Open(dir, &o)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := db.Verify(ctx); err != nil {
		return nil, err
	}
	info.Head = db.Head()
	return info, nil
}

// forkBackup runs as a writable Open begins: when the directory holds a
// backup's marker, the store gets a new id and a new secret in one synced
// batch, the origin is recorded under metaRestoredFrom, and the marker is
// removed. Sync tokens carry the store id, so every token the source
// issued — including tokens for states after the backup's head that the
// restored server never had — gets DAV:valid-sync-token and a full sync,
// never a delta that skips what was lost. ETags are sealed with a key
// derived from the secret: an object written after the restore gets an
// ETag the source never gave any version, so a client holding a version
// the restore lost sees the ETag change and fetches (and an If-Match of
// that version fails) instead of taking the new version for its own.
// ETags stored in the log before the backup stay as they were: clients
// that hold them hold exactly those versions. A crash before the marker is
// gone forks again at the next Open, which is harmless.
func (db *DB) forkBackup() error {
	if db.opts.ReadOnly {
		return nil
	}
	fs := db.opts.FS
	marker := fs.PathJoin(db.dir, backupMarker)
	data, err := readFile(fs, marker)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("engine: backup marker: %w", err)
	}
	var origin BackupInfo
	if err := json.Unmarshal(data, &origin); err != nil {
		return fmt.Errorf("engine: backup marker %s: %w", marker, err)
	}
	id := make([]byte, 8)
	secret := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return fmt.Errorf("engine: fork backup: %w", err)
	}
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("engine: fork backup: %w", err)
	}
	b := db.pdb.NewBatch()
	defer b.Close()
	for _, kv := range [][2][]byte{
		{keys.MetaKey(metaStoreID), []byte(hex.EncodeToString(id))},
		{keys.MetaKey(metaSecret), secret},
		{keys.MetaKey(metaRestoredFrom), data},
	} {
		if err := b.Set(kv[0], kv[1], nil); err != nil {
			return fmt.Errorf("engine: fork backup: %w", err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return noSpace(fmt.Errorf("engine: fork backup: %w", err))
	}
	if err := fs.Remove(marker); err != nil {
		return fmt.Errorf("engine: fork backup: remove marker: %w", err)
	}
	if err := syncDir(fs, db.dir); err != nil {
		return fmt.Errorf("engine: fork backup: %w", err)
	}
	db.opts.Logger.Info("engine: opened a backup for the first time: new store id and secret, so sync tokens and ETags "+
		"the source gave out after the backup are not valid here (clients do a full sync)",
		"source_store", origin.Store, "backup_head", uint64(origin.Head), "backup_time", origin.Time)
	return nil
}

// writeSynced writes data to dir/name, syncs the file and then dir.
func writeSynced(fs vfs.FS, dir, name string, data []byte) error {
	f, err := fs.Create(fs.PathJoin(dir, name), vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return syncDir(fs, dir)
}

// syncDir syncs a directory's entries.
func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// readFile reads a small file through fs.
func readFile(fs vfs.FS, name string) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<16))
}

// ErrNotReplica is returned by JoinReplica for a backup of a database
// that is not a cluster node's replica. It is an ErrConflict: the state of
// the backup, not the request, is wrong.
var ErrNotReplica = fmt.Errorf("%w: not a backup of a cluster node (its log is not a shared log's replica)", ErrConflict)

// JoinReplica makes the backup in backupDir, taken on a node of a cluster
// (a replica of a shared log), the database dbDir of a new node of the
// same cluster: it verifies the backup, moves it to dbDir (which must not
// exist, and must be on backupDir's filesystem) and removes its marker, so
// that the new node keeps the cluster's store id and secret instead of
// forking (a fork could not follow the shared log). Opened with the shared
// log, the node then applies the log's tail after the backup's head.
//
// Errors: ErrExists when dbDir exists; ErrNotReplica.
func JoinReplica(ctx context.Context, backupDir, dbDir string, opts *Options) (*BackupInfo, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.ReadOnly = true
	o.EnsureDefaults()
	fs := o.FS
	if _, err := fs.Stat(dbDir); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, dbDir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("engine: join: %w", err)
	}
	info, err := VerifyBackup(ctx, backupDir, &o)
	if err != nil {
		return nil, err
	}
	db, err := Open(backupDir, &o)
	if err != nil {
		return nil, err
	}
	replica := db.replica
	if err := db.Close(); err != nil {
		return nil, err
	}
	if !replica {
		return nil, fmt.Errorf("%w: %s", ErrNotReplica, backupDir)
	}
	if err := fs.MkdirAll(fs.PathDir(dbDir), 0o700); err != nil {
		return nil, fmt.Errorf("engine: join: %w", err)
	}
	if err := fs.Rename(backupDir, dbDir); err != nil {
		return nil, fmt.Errorf("engine: join: move the backup to %s (it must be on the same filesystem): %w", dbDir, err)
	}
	if err := fs.Remove(fs.PathJoin(dbDir, backupMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("engine: join: remove the backup marker: %w", err)
	}
	if err := errors.Join(syncDir(fs, dbDir), syncDir(fs, fs.PathDir(dbDir))); err != nil {
		return nil, fmt.Errorf("engine: join: %w", err)
	}
	info.Dir = dbDir
	return info, nil
}

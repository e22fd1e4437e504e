package engine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// rawLog returns the log records of db with seqs 1..head, byte for byte.
func rawLog(t *testing.T, r pebble.Reader, head Seq) [][]byte {
	t.Helper()
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: []byte{keys.Log}, UpperBound: []byte{keys.Log + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out [][]byte
	for it.First(); it.Valid(); it.Next() {
		seq, err := keys.ParseLogKey(it.Key())
		if err != nil {
			t.Fatal(err)
		}
		if Seq(seq) > head {
			break
		}
		if Seq(seq) != Seq(len(out)+1) {
			t.Fatalf("log record %d follows %d", seq, len(out))
		}
		out = append(out, bytes.Clone(it.Value()))
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return out
}

// mustCalendarOnDisk opens a database on disk (hard links, real fsyncs) with
// the calendar /alice/cal/; the test's cleanup closes it.
func mustCalendarOnDisk(tb testing.TB, dir string) *DB {
	tb.Helper()
	db, err := Open(dir, &Options{MinFreeSpace: -1, ReserveSize: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	MustCalendar(tb, db)
	return db
}

// TestBackupUnderWrites takes a backup on disk while four writers put
// objects: every write acknowledged before Backup began is in it, its log
// is the source's log record for record up to its head, it verifies (also
// after a second read-only check, which keeps the marker), and a server
// opening it forks: new store id, the source's sync tokens refused (also
// ones for states the backup has), new writes with ETags the source never
// gave. The backup's head and what the writers had acknowledged are not
// asserted beyond that bound: how many writes land during the checkpoint
// depends on timing.
func TestBackupUnderWrites(t *testing.T) {
	dir := t.TempDir()
	db := mustCalendarOnDisk(t, filepath.Join(dir, "db"))

	// Each writer puts 100 objects; the backup starts once each has put
	// 50 and runs while they put the rest.
	var half, all sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		half.Add(1)
		all.Add(1)
		go func() {
			defer all.Done()
			halfDone := false
			defer func() {
				if !halfDone {
					half.Done()
				}
			}()
			for i := range 100 {
				if i == 50 {
					half.Done()
					halfDone = true
				}
				uid := fmt.Sprintf("w%d-%d", w, i%30)
				if _, err := db.PutObject(ctx, alice, "/alice/cal/", uid+".ics", event(uid), PutOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	half.Wait()
	before := db.Head()
	tokenBefore := mustChanges(t, db, "").Token
	dest := filepath.Join(dir, "backups", "b1", "db")
	info, err := db.Backup(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	all.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if info.Head < before || info.Head > db.Head() || info.Store != db.StoreID() || info.Dir != dest {
		t.Fatalf("backup %+v: head before %d, after %d, store %s", info, before, db.Head(), db.StoreID())
	}
	tokenAfter := mustChanges(t, db, "").Token // a state the backup does not have

	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	src := rawLog(t, v.v.snap, info.Head)
	v.Close()

	for range 2 { // read-only checks leave the backup as it was
		got, err := VerifyBackup(ctx, dest, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.Head != info.Head || got.Store != info.Store || !got.Time.Equal(info.Time) {
			t.Fatalf("VerifyBackup = %+v, Backup said %+v", got, info)
		}
	}

	restored, err := Open(dest, &Options{MinFreeSpace: -1, ReserveSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if restored.Head() != info.Head {
		t.Fatalf("restored head %d, backup head %d", restored.Head(), info.Head)
	}
	rv, err := restored.View()
	if err != nil {
		t.Fatal(err)
	}
	dst := rawLog(t, rv.v.snap, info.Head+1)
	rv.Close()
	if len(dst) != len(src) || Seq(len(src)) != info.Head {
		t.Fatalf("restored log has %d records, source %d up to the head %d", len(dst), len(src), info.Head)
	}
	for i := range src {
		if !bytes.Equal(src[i], dst[i]) {
			t.Fatalf("log record %d differs", i+1)
		}
	}
	if err := restored.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dest, backupMarker)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("marker after a writable open: %v", err)
	}
	if restored.StoreID() == db.StoreID() {
		t.Fatal("the restored store kept the source's id")
	}
	for _, tok := range []string{tokenBefore, tokenAfter} {
		if _, err := restored.Changes("/alice/cal/", tok, 0); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("source token %s on the restored store: %v, want ErrInvalidToken", tok, err)
		}
	}
	// The next seq was given by the source too: the restored store's ETag
	// for it must differ.
	res, err := restored.PutObject(ctx, alice, "/alice/cal/", "new.ics", event("new"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Seq != info.Head+1 {
		t.Fatalf("first write after the restore got seq %d, want %d", res.Seq, info.Head+1)
	}
	if res.ETag == db.etag(res.Seq) {
		t.Fatalf("the restored store gave ETag %s, which the source gave seq %d too", res.ETag, res.Seq)
	}
}

func mustChanges(t *testing.T, db *DB, token string) *ChangeSet {
	t.Helper()
	cs, err := db.Changes("/alice/cal/", token, 0)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestBackupRefusals: an existing destination is refused and left alone;
// a second backup while one runs is refused.
func TestBackupRefusals(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	MustCalendar(t, db)
	if err := fs.MkdirAll("taken", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeSynced(fs, "taken", "keep", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Backup(ctx, "taken"); !errors.Is(err, ErrExists) {
		t.Fatalf("backup onto an existing directory: %v, want ErrExists", err)
	}
	if names, _ := fs.List("taken"); len(names) != 1 {
		t.Fatalf("the existing directory now holds %v", names)
	}
	db.backupMu.Lock()
	_, err = db.Backup(ctx, "b2")
	db.backupMu.Unlock()
	if !errors.Is(err, ErrBackupBusy) {
		t.Fatalf("backup while one runs: %v, want ErrBackupBusy", err)
	}
	if _, err := fs.Stat("b2"); err == nil {
		t.Fatal("a refused backup left its destination")
	}
	if lb := db.LastBackup(); lb != nil {
		t.Fatalf("after refused backups LastBackup is %+v, want nil", lb)
	}
}

// TestLastBackup: LastBackup is nil until a backup is made, then names the
// latest one, its head and the bytes of its files.
func TestLastBackup(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if lb := db.LastBackup(); lb != nil {
		t.Fatalf("LastBackup before any: %+v", lb)
	}
	MustCalendar(t, db)
	if _, err := db.Backup(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "u.ics", event("u"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := db.Backup(ctx, "b2")
	if err != nil {
		t.Fatal(err)
	}
	lb := db.LastBackup()
	if lb == nil || lb.Dir != "b2" || lb.Head != info.Head || lb.Head != db.Head() || !lb.Time.Equal(info.Time) {
		t.Fatalf("LastBackup = %+v, want the second backup %+v", lb, info)
	}
	var want int64
	names, err := fs.List("b2")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		st, err := fs.Stat(fs.PathJoin("b2", n))
		if err != nil {
			t.Fatal(err)
		}
		want += st.Size()
	}
	if want == 0 || lb.Bytes != want {
		t.Fatalf("LastBackup.Bytes = %d, want %d (the files of b2)", lb.Bytes, want)
	}
}

// TestBackupDurable: a crash right after Backup returns (only what was
// synced survives, directory entries included) leaves a backup that opens,
// verifies and has the same head.
func TestBackupDurable(t *testing.T) {
	fs := vfs.NewCrashableMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	MustCalendar(t, db)
	for i := range 20 {
		uid := fmt.Sprintf("u%d", i)
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", uid+".ics", event(uid), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	info, err := db.Backup(ctx, "backups/nightly/db")
	if err != nil {
		t.Fatal(err)
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	got, err := VerifyBackup(ctx, "backups/nightly/db", &Options{FS: crashed})
	if err != nil {
		t.Fatal(err)
	}
	if got.Head != info.Head || got.Store != info.Store {
		t.Fatalf("after a crash the backup says %+v, before %+v", got, info)
	}
}

// BenchmarkBackup backs up a database of 10,000 objects on disk while a
// writer puts without pause, and reports the slowest of those puts
// (max-put-ms: how long the checkpoint held writes back, plus a put's own
// time) beside the backup's time, verification included.
func BenchmarkBackup(b *testing.B) {
	dir := b.TempDir()
	db := mustCalendarOnDisk(b, filepath.Join(dir, "db"))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1250 {
				uid := fmt.Sprintf("w%d-%d", w, i)
				if _, err := db.PutObject(ctx, alice, "/alice/cal/", uid+".ics", event(uid), PutOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	stop := make(chan struct{})
	var mu sync.Mutex
	var slowest time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			if _, err := db.PutObject(ctx, alice, "/alice/cal/", "busy.ics", event("busy"), PutOptions{}); err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			slowest = max(slowest, time.Since(start))
			mu.Unlock()
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dest := filepath.Join(dir, fmt.Sprintf("b%d", i))
		if _, err := db.Backup(ctx, dest); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dest); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(slowest.Microseconds())/1000, "max-put-ms")
}

// TestJoinReplicaRefusesStandalone: a backup of a database that is no
// cluster node's replica cannot become a node's database (it would fork
// from, or be refused by, the shared log), and the backup stays where it
// was; a destination that exists is refused.
func TestJoinReplicaRefusesStandalone(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	MustCalendar(t, db)
	if _, err := db.Backup(ctx, "bk"); err != nil {
		t.Fatal(err)
	}
	if _, err := JoinReplica(ctx, "bk", "new/db", &Options{FS: fs}); !errors.Is(err, ErrNotReplica) {
		t.Fatalf("JoinReplica of a standalone backup: %v, want ErrNotReplica", err)
	}
	if _, err := fs.Stat("bk"); err != nil {
		t.Errorf("the refused backup is gone: %v", err)
	}
	if _, err := JoinReplica(ctx, "bk", "db", &Options{FS: fs}); !errors.Is(err, ErrExists) {
		t.Errorf("JoinReplica onto an existing database: %v, want ErrExists", err)
	}
}

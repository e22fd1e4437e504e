package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestZeroedWALKeepsLog writes a log of random records while the zeroer
// fills the space ahead of it: the file must hold the log byte for byte,
// then zeros only, and the zeros must run ahead of the log.
func TestZeroedWALKeepsLog(t *testing.T) {
	t.Parallel()
	const space = 16 << 20
	f, name := newTestWAL(t, space)
	rng := rand.New(rand.NewPCG(1, 2))
	var log bytes.Buffer
	for log.Len() < 6<<20 {
		rec := make([]byte, 1+rng.IntN(48<<10))
		for i := range rec {
			rec[i] = byte(rng.Uint32()) | 1 // never zero, so a lost byte shows
		}
		log.Write(rec)
		if _, err := f.Write(rec); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(8) == 0 {
			if err := f.SyncData(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for deadline := time.Now().Add(time.Minute); ; {
		f.mu.Lock()
		ahead := f.zeroed - f.written
		f.mu.Unlock()
		if ahead >= zeroLead/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after the writes the zeros are only %d bytes ahead of the log, want %d", ahead, zeroLead/2)
		}
		time.Sleep(time.Millisecond)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) <= log.Len() || len(got) > space {
		t.Fatalf("file is %d bytes for a %d-byte log in %d of space", len(got), log.Len(), space)
	}
	if !bytes.Equal(got[:log.Len()], log.Bytes()) {
		t.Fatal("the file does not hold the log as written")
	}
	if i := bytes.IndexFunc(got[log.Len():], func(r rune) bool { return r != 0 }); i >= 0 {
		t.Fatalf("non-zero byte %d bytes past the log's end", i)
	}
}

// TestZeroedWALCloseWhileZeroing closes logs whose zeroer is busy: Close
// must stop it and return.
func TestZeroedWALCloseWhileZeroing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range 20 {
		raw, err := vfs.Default.Create(filepath.Join(dir, fmt.Sprintf("%06d.log", i)), walCategory)
		if err != nil {
			t.Fatal(err)
		}
		f := newZeroedWAL(raw)
		if err := f.Preallocate(0, 64<<20); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(bytes.Repeat([]byte{7}, i*1000)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestZeroedWALOnlyOnDisk: logs on an in-memory filesystem, and files that
// are not logs, are left as they are.
func TestZeroedWALOnlyOnDisk(t *testing.T) {
	t.Parallel()
	mem, err := vfs.NewMem().Create("000001.log", walCategory)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := newZeroedWAL(mem).(*zeroedWAL); ok {
		t.Error("an in-memory log was wrapped")
	}
	fs := scrubFS{vfs.Default}
	dir := t.TempDir()
	for _, c := range []struct {
		name     string
		category vfs.DiskWriteCategory
		want     bool
	}{
		{"000002.log", walCategory, true},
		{"000003.sst", "pebble-compaction", false},
		{"MANIFEST-000001", "pebble-manifest", false},
	} {
		f, err := fs.Create(filepath.Join(dir, c.name), c.category)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := f.(*zeroedWAL); ok != c.want {
			t.Errorf("%s (%s): zeroed %v, want %v", c.name, c.category, ok, c.want)
		}
		f.Close()
	}
}

// TestZeroedWALReopen puts objects, closes and reopens: the logs carry
// zeros past their records, and recovery reads them as the logs' ends.
func TestZeroedWALReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	MustCalendar(t, db)
	etags := map[string]string{}
	for i := range 200 {
		name := fmt.Sprintf("e%d.ics", i)
		res, err := db.PutObject(ctx, alice, "/alice/cal/", name, realisticEvent(name), PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		etags[name] = res.ETag
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	zeroTail := false
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		zeroTail = zeroTail || (len(b) > 64<<10 && bytes.Count(b[len(b)-4096:], []byte{0}) == 4096)
	}
	if !zeroTail {
		t.Errorf("no log among %v has a zeroed tail", logs)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, etag := range etags {
		o, err := db.Object("/alice/cal/", name, true)
		if err != nil || o.ETag != etag {
			t.Fatalf("%s after reopening: %v, etag %v want %s", name, err, o, etag)
		}
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestZeroedWALHoldsLittleAhead: a log that asks for 64 MiB of
// preallocation and holds a few records takes on disk its records and the
// zeros ahead of them, not the 64 MiB.
func TestZeroedWALHoldsLittleAhead(t *testing.T) {
	t.Parallel()
	f, name := newTestWAL(t, 64<<20)
	if _, err := f.Write(bytes.Repeat([]byte{7}, 100<<10)); err != nil {
		t.Fatal(err)
	}
	if err := f.SyncData(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(name, &st); err != nil {
		t.Fatal(err)
	}
	if held, most := st.Blocks*512, int64(100<<10+minZeroLead+64<<10); held > most {
		t.Fatalf("a 100 KiB log holds %d bytes on disk, want at most %d", held, most)
	}
}

// newTestWAL creates a zeroed log on disk that asked for space bytes of
// preallocation, and returns it with its file name.
func newTestWAL(t *testing.T, space int64) (*zeroedWAL, string) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "000001.log")
	raw, err := vfs.Default.Create(name, walCategory)
	if err != nil {
		t.Fatal(err)
	}
	f := newZeroedWAL(raw).(*zeroedWAL)
	if err := f.Preallocate(0, space); err != nil {
		t.Fatal(err)
	}
	return f, name
}

// TestNoRecycledLogs: after memtables are flushed, the write-ahead logs
// they needed are deleted, not kept for recycling (noRecycleCleaner): only
// the log of the current memtable is left.
func TestNoRecycledLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	MustCalendar(t, db)
	for i := range 5 {
		name := fmt.Sprintf("e%d.ics", i)
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", name, realisticEvent(name), PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := db.pdb.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// Pebble deletes obsolete files in the background after a flush.
	for deadline := time.Now().Add(time.Minute); ; {
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		if len(logs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("write-ahead logs a minute after 5 flushes: %v, want only the current one", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

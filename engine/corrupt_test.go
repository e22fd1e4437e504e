package engine

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes (a logger's).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// corruptDB writes n objects into a database in dir, flushes everything into
// sstables and closes it. It returns the names written.
func corruptDB(t *testing.T, dir string, n int) []string {
	t.Helper()
	db, err := Open(dir, &Options{Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	MustCalendar(t, db)
	var names []string
	for i := range n {
		name := fmt.Sprintf("e%04d.ics", i)
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", name, event(fmt.Sprintf("uid-%d-%s", i, strings.Repeat("x", 200))), PutOptions{}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := db.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return names
}

// flipBytes flips two bytes a third of the way into the sstable at path.
func flipBytes(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mid := len(b) / 3
	b[mid] ^= 0xff
	b[mid+1] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// largestTable returns the path of the largest sstable in dir whose keys
// all belong to families between lo and hi.
func largestTable(t *testing.T, db *DB, lo, hi byte) string {
	t.Helper()
	levels, err := db.pdb.SSTables()
	if err != nil {
		t.Fatal(err)
	}
	var best string
	var size uint64
	for _, tables := range levels {
		for _, tb := range tables {
			if tb.Smallest.UserKey[0] >= lo && tb.Largest.UserKey[0] <= hi && tb.Size > size {
				best, size = filepath.Join(db.dir, fmt.Sprintf("%06d.sst", uint64(tb.BackingSSTNum))), tb.Size
			}
		}
	}
	if best == "" {
		t.Fatalf("no table within families %c..%c", lo, hi)
	}
	return best
}

func openLogged(t *testing.T, dir string, opts Options) (*DB, *syncBuffer) {
	t.Helper()
	var logs syncBuffer
	opts.Clock = fakeClock()
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	db, err := Open(dir, &opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return db, &logs
}

// TestCorruptLogBlock flips two bytes in the table holding the log (and
// projections, as a memtable flush writes them): the reads that need the
// damaged block fail with an error, every other read is served, the
// process does not exit (Pebble's default listener called Fatalf), and
// Verify names the lost log records, the file and what can be done, again
// after a restart.
func TestCorruptLogBlock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	names := corruptDB(t, dir, 400)
	db, _ := openLogged(t, dir, Options{})
	path := largestTable(t, db, 0, 0xff)
	db.Close()
	flipBytes(t, path)
	for round := range 2 { // again after a restart
		db, logs := openLogged(t, dir, Options{})
		bad := 0
		for _, n := range names {
			if _, err := db.Object("/alice/cal/", n, true); err != nil {
				bad++
			}
		}
		if bad == 0 || bad == len(names) {
			t.Fatalf("round %d: %d of %d objects unreadable, want some but not all", round, bad, len(names))
		}
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", fmt.Sprintf("new%d.ics", round), event(fmt.Sprintf("new-%d", round)), PutOptions{}); err != nil {
			t.Fatalf("round %d: a write after the damage: %v", round, err)
		}
		err := db.Verify(ctx)
		var ce *CorruptionError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("round %d: Verify = %v, want a *CorruptionError", round, err)
		}
		if len(ce.LostLog) == 0 || len(ce.Files) != 1 || ce.Files[0].Path != path {
			t.Fatalf("round %d: Verify found lost log %v, files %v", round, ce.LostLog, ce.Files)
		}
		lost := 0
		for _, r := range ce.LostLog {
			lost += int(r.Last - r.First + 1)
		}
		if lost > bad+5 { // the objects' puts, and maybe a neighbour's record
			t.Errorf("round %d: %d log records reported lost for %d unreadable objects", round, lost, bad)
		}
		msg := err.Error()
		for _, want := range []string{"unreadable log records: #", filepath.Base(path), "cannot be recovered", "backup"} {
			if !strings.Contains(msg, want) {
				t.Errorf("round %d: Verify's message lacks %q:\n%s", round, want, msg)
			}
		}
		if !strings.Contains(logs.String(), "on-disk corruption") || !strings.Contains(logs.String(), filepath.Base(path)) {
			t.Errorf("round %d: no corruption logged naming the file:\n%s", round, logs)
		}
		db.Close()
	}
}

// TestCorruptProjectionsRebuild damages a table holding only projections:
// Verify says that the log is whole and that a rebuild recovers them, and
// Open with Rebuild (almanac rebuild on a stopped server) does, without
// reading the damaged table.
func TestCorruptProjectionsRebuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	names := corruptDB(t, dir, 400)
	// A rebuild at Open ingests one table per family: the log and the
	// projections end up in different files.
	db, _ := openLogged(t, dir, Options{Rebuild: true})
	path := largestTable(t, db, 'a', 'z')
	db.Close()
	flipBytes(t, path)

	db, _ = openLogged(t, dir, Options{})
	err := db.Verify(ctx)
	var ce *CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("Verify = %v, want a *CorruptionError", err)
	}
	if len(ce.LostLog) != 0 || len(ce.Projections) == 0 {
		t.Fatalf("Verify found lost log %v, projections %v; want projections only", ce.LostLog, ce.Projections)
	}
	if !strings.Contains(err.Error(), "almanac rebuild --data DIR") || !strings.Contains(err.Error(), "nothing is lost") {
		t.Errorf("Verify's advice does not point to rebuild:\n%v", err)
	}
	db.Close()

	db, _ = openLogged(t, dir, Options{Rebuild: true})
	defer db.Close()
	if err := db.Verify(ctx); err != nil {
		t.Fatalf("Verify after the rebuild: %v", err)
	}
	for _, n := range names {
		if _, err := db.Object("/alice/cal/", n, true); err != nil {
			t.Fatalf("read %s after the rebuild: %v", n, err)
		}
	}
}

// TestCorruptWALTruncate checks the recovery README documents for a
// damaged write-ahead log: Open refuses with Pebble's message naming the
// log and the offset, and truncating the log at that offset lets it open
// with every record before the damage; Verify passes.
func TestCorruptWALTruncate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := Open(dir, &Options{Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	MustCalendar(t, db)
	for i := range 1000 { // several of the log's 32 KiB blocks
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", fmt.Sprintf("e%d.ics", i), event(fmt.Sprintf("u%d", i)), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	head := db.Head()
	db.Close()
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	sort.Strings(logs)
	wal := logs[len(logs)-1]
	b, err := os.ReadFile(wal)
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.LastIndexFunc(b, func(r rune) bool { return r != 0 })
	at := end / 2
	b[at] ^= 0xff
	b[at+1] ^= 0xff
	if err := os.WriteFile(wal, b, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, &Options{Clock: fakeClock()})
	if err == nil {
		t.Fatalf("Open accepted a damaged write-ahead log; head %d of %d", db.Head(), head)
	}
	t.Logf("Open: %v", err)
	m := regexp.MustCompile(`the write-ahead log (\S+) is damaged at offset (\d+)`).FindStringSubmatch(err.Error())
	if m == nil || m[1] != wal || !strings.Contains(err.Error(), "truncate -s") {
		t.Fatalf("Open's error does not name the log and the offset: %+v", err)
	}
	off, _ := strconv.ParseInt(m[2], 10, 64)
	if err := os.Truncate(wal, off); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, &Options{Clock: fakeClock()})
	if err != nil {
		t.Fatalf("Open after truncating the log at %d: %v", off, err)
	}
	defer db.Close()
	if got := db.Head(); got == 0 || got >= head {
		t.Errorf("head after the truncation = %d, want some of the %d events", got, head)
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatalf("Verify after the truncation: %v", err)
	}
}

// FuzzDescribeKey: naming any key of a damaged range never panics.
func FuzzDescribeKey(f *testing.F) {
	f.Add([]byte("L\x00\x00\x00\x00\x00\x00\x00\x01"), []byte("o\x00\x00\x00\x00\x00\x00\x00\x02x.ics"))
	f.Add([]byte("q/a/\x00"), []byte{})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if describeRange(a, b) == "" {
			t.Fatal("empty description")
		}
	})
}

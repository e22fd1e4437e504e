package engine

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// gateFS blocks every Sync of a WAL file while the gate is closed, so a
// test can look at what readers see between a commit and its fsync.
type gateFS struct {
	vfs.FS
	mu     sync.Mutex
	closed bool
	open   chan struct{}
	syncs  chan struct{} // receives when a blocked Sync is waiting
}

func (g *gateFS) close() {
	g.mu.Lock()
	g.closed, g.open = true, make(chan struct{})
	g.mu.Unlock()
}

// release opens the gate; it may be called more than once.
func (g *gateFS) release() {
	g.mu.Lock()
	if g.closed {
		g.closed = false
		close(g.open)
	}
	g.mu.Unlock()
}

func (g *gateFS) wait() {
	g.mu.Lock()
	closed, open := g.closed, g.open
	g.mu.Unlock()
	if closed {
		g.syncs <- struct{}{}
		<-open
	}
}

func (g *gateFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := g.FS.Create(name, cat)
	return g.wrap(name, f), err
}

func (g *gateFS) ReuseForWrite(old, new string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := g.FS.ReuseForWrite(old, new, cat)
	return g.wrap(new, f), err
}

func (g *gateFS) wrap(name string, f vfs.File) vfs.File {
	if f == nil || !strings.HasSuffix(name, ".log") {
		return f
	}
	return &gateFile{File: f, g: g}
}

type gateFile struct {
	vfs.File
	g *gateFS
}

func (f *gateFile) Sync() error     { f.g.wait(); return f.File.Sync() }
func (f *gateFile) SyncData() error { f.g.wait(); return f.File.SyncData() }
func (f *gateFile) SyncTo(n int64) (bool, error) {
	f.g.wait()
	return f.File.SyncTo(n)
}

// TestNothingVisibleBeforeFsync checks the durability hazard DESIGN.md
// names: Pebble shows a committed batch to readers before its WAL fsync
// completes. Objects, CTags, sync tokens and the log's head must not move
// until the write is durable.
func TestNothingVisibleBeforeFsync(t *testing.T) {
	t.Parallel()
	g := &gateFS{FS: vfs.NewMem(), syncs: make(chan struct{}, 16)}
	db, err := Open("db", &Options{FS: g, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	MustCalendar(t, db)
	before, _ := db.Collection("/alice/cal/")
	head := db.Head()

	g.close()
	defer g.release() // a failing check below must not leave Close waiting on the gate
	done := make(chan error, 1)
	go func() {
		_, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{})
		done <- err
	}()
	select {
	case <-g.syncs: // the commit is written and waits for its fsync
	case <-time.After(time.Minute):
		t.Fatal("the put did not reach its fsync within a minute")
	}
	if _, err := db.Object("/alice/cal/", "a.ics", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("object visible before its fsync: %v", err)
	}
	c, _ := db.Collection("/alice/cal/")
	if c.CTag != before.CTag || c.SyncToken != before.SyncToken {
		t.Error("CTag or sync token moved before the fsync")
	}
	if db.Head() != head {
		t.Error("log head moved before the fsync")
	}
	select {
	case err := <-done:
		t.Fatalf("put acknowledged before its fsync: %v", err)
	default:
	}

	g.release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the put was not acknowledged after its fsync was released")
	}
	if _, err := db.Object("/alice/cal/", "a.ics", false); err != nil {
		t.Errorf("object not visible after its fsync: %v", err)
	}
	if db.Head() != head+1 {
		t.Errorf("head = %d, want %d", db.Head(), head+1)
	}
}

// TestConcurrentIfMatch: 32 writers replace one object with the same
// If-Match; exactly one wins.
func TestConcurrentIfMatch(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	r, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, mismatches := 0, 0
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{IfMatch: r.ETag})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case isETagMismatch(err):
				mismatches++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || mismatches != 31 {
		t.Fatalf("wins = %d, mismatches = %d; want 1 and 31", wins, mismatches)
	}
}

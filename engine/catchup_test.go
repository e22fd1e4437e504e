package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// fillVaried writes n objects through db, then rewrites a tenth of them,
// deletes another tenth, and makes and deletes a calendar of its own:
// the kinds of event a catch-up in bulk must apply as the writer did.
func fillVaried(t *testing.T, db *DB, n int) {
	t.Helper()
	fillShared(t, db, n)
	c := &Collection{Path: "/alice/cal/"}
	for i := 0; i < n; i += 10 {
		name := fmt.Sprint(i, ".ics")
		if _, err := db.PutObject(ctx, alice, c.Path, name, event(fmt.Sprint(i)), PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteObject(ctx, alice, c.Path, fmt.Sprint(i+1, ".ics"), ""); err != nil {
			t.Fatal(err)
		}
	}
	other, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/other/", Kind: KindCalendar, Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutObject(ctx, alice, other.Path, "x.ics", event("x"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteCollection(ctx, alice, other.Path); err != nil {
		t.Fatal(err)
	}
}

// smallCatchUp is the catch-up's sizes (catchUpSizes) of the catch-up
// tests: a quarter of the constants, so that a log of about 3,000 events
// takes the paths one of 10,000 takes with the constants (three reads of
// readFar, of which several in flight, a replay flush before the last
// read, the bulk catch-up), at a quarter of the CPU: under -race the
// catch-up in bulk tests took 61 CPU-s at 8,704 events (session 14).
var smallCatchUp = catchUpSizes{readFar: readFar / 4, commitRecords: commitRecords / 4, bulkMin: bulkMin / 4}

// openSmall opens the database on fs that appends to and follows log,
// with the catch-up's sizes of smallCatchUp.
func openSmall(tb testing.TB, fs vfs.FS, log SharedLog) *DB {
	tb.Helper()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock(), Log: log, catchUp: smallCatchUp})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// bulk is the log the catch-up in bulk tests replay, built once: a node
// (a, open for the whole test process) wrote smallCatchUp.bulkMin+readBatch
// events and more (fillVaried), and behind holds a node that stopped after the
// first event, closed (each test copies it). The tests run in parallel:
// none may append to log.
var bulk struct {
	sync.Once
	log    *memLog
	a      *DB
	behind *vfs.MemFS
	ok     bool
}

// bulkFixture builds bulk once and returns it.
func bulkFixture(t *testing.T) (log *memLog, a *DB, behind *vfs.MemFS) {
	t.Helper()
	bulk.Do(func() {
		bulk.log = newMemLog()
		a, err := Open("db", &Options{FS: vfs.NewMem(), Clock: fakeClock(), Log: bulk.log, catchUp: smallCatchUp})
		if err != nil {
			t.Fatal(err)
		}
		bulk.a = a
		if _, err := a.CreateCollection(ctx, alice, CollectionSpec{Path: "/bob/", Kind: KindHome, Owner: "bob"}); err != nil {
			t.Fatal(err)
		}
		bulk.behind = vfs.NewCrashableMem()
		b, err := Open("db", &Options{FS: bulk.behind, Clock: fakeClock(), Log: bulk.log, catchUp: smallCatchUp})
		if err != nil {
			t.Fatal(err)
		}
		waitApplied(t, b, a.Head())
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		fillVaried(t, a, smallCatchUp.bulkMin+readBatch)
		bulk.ok = true
	})
	if !bulk.ok {
		t.Fatal("building the log failed (see the first test that built it)")
	}
	return bulk.log, bulk.a, bulk.behind.CrashClone(vfs.CrashCloneCfg{})
}

// TestCatchUpBulk: a node opened more than bulkMin events behind the log
// catches up in bulk, from an empty data directory (sorted runs) and from
// where it was (batches over its projections): either way its log and
// projections are byte for byte those of the node that applied the events
// one group at a time, and verify. Afterwards it writes, and follows the
// other node's writes, as any node.
func TestCatchUpBulk(t *testing.T) {
	t.Parallel()
	shared, a, behindFS := bulkFixture(t)
	// A copy of the log: the write below must not reach the other tests'.
	log := newMemLog()
	shared.mu.Lock()
	log.recs, log.id = slices.Clone(shared.recs), shared.id
	shared.mu.Unlock()
	fresh := openSmall(t, vfs.NewMem(), log)
	again := openSmall(t, behindFS, log)
	for _, b := range []*DB{fresh, again} {
		if b.Head() != a.Head() {
			t.Fatalf("opened at %d, the log's head is %d", b.Head(), a.Head())
		}
		sameState(t, a, b)
		if err := b.Verify(ctx); err != nil {
			t.Error(err)
		}
	}
	r, err := fresh.PutObject(ctx, alice, "/alice/cal/", "after.ics", event("after"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitApplied(t, again, r.Seq)
	sameState(t, fresh, again)
}

// crashLog is a memLog that, at the first read that would return record
// crashAt, takes a crash clone of fs (what survives a power cut at that
// moment: the synced state) and fails the read, and every read after it.
type crashLog struct {
	*memLog
	fs      *vfs.MemFS
	crashAt Seq

	once    sync.Once
	crashed *vfs.MemFS
}

func (l *crashLog) Read(ctx context.Context, from Seq, max int) ([][]byte, error) {
	if from+Seq(max) > l.crashAt {
		l.once.Do(func() {
			// Some of what was not synced survives, as in powerloss_test.
			l.crashed = l.fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(1, 2))})
		})
		return nil, errReadFailed
	}
	return l.memLog.Read(ctx, from, max)
}

// TestCatchUpBulkCrash: a node that crashes in the middle of a catch-up
// in bulk, from an empty directory or from where it was, opens again with
// the rebuild marker set: it rebuilds its projections from the log
// records it kept, catches up the rest, and holds what the node that
// wrote them holds. A catch-up that fails (here a read) leaves the marker
// too, whatever it committed.
//
// Each of the two directories goes through a failed catch-up and two
// reopenings, each a rebuild from the kept records, a catch-up of the
// rest in bulk, a comparison of every key (sameState) and Verify: six
// passes over the log and four full comparisons, hence smallCatchUp's
// short log. Crashing one directory only would drop a case the bulk
// path takes (sorted runs vs batches).
func TestCatchUpBulkCrash(t *testing.T) {
	t.Parallel()
	log, a, behindFS := bulkFixture(t)
	for name, fs := range map[string]*vfs.MemFS{"empty": vfs.NewCrashableMem(), "behind": behindFS} {
		crashing := &crashLog{memLog: log, fs: fs, crashAt: a.Head() - readBatch}
		if db, err := Open("db", &Options{FS: fs, Clock: fakeClock(), Log: crashing, catchUp: smallCatchUp}); !errors.Is(err, errReadFailed) {
			if err == nil {
				db.Close()
			}
			t.Fatalf("%s: open with reads failing near the end: %v, want the read's error", name, err)
		}
		for _, after := range []*vfs.MemFS{crashing.crashed, fs} {
			if !marked(t, after) {
				t.Fatalf("%s: no rebuild marker after a failed catch-up", name)
			}
			b := openSmall(t, after, log)
			if b.Head() != a.Head() {
				t.Fatalf("%s: reopened at %d, the log's head is %d", name, b.Head(), a.Head())
			}
			sameState(t, a, b)
			if err := b.Verify(ctx); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// marked reports whether the database "db" on fs holds the rebuild marker.
func marked(t *testing.T, fs vfs.FS) bool {
	t.Helper()
	p, err := pebble.Open("db", &pebble.Options{FS: fs, ReadOnly: true, Logger: pebbleLogger{slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = getCopy(p, keys.MetaKey(metaRebuilding))
	if err != nil && !errors.Is(err, pebble.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestCatchUpBulkDiverged: a log that skips a record in the middle of a
// catch-up in bulk is refused as a divergence.
func TestCatchUpBulkDiverged(t *testing.T) {
	t.Parallel()
	log, _, _ := bulkFixture(t)
	skipping := &faultyLog{memLog: log, skip: 4*readBatch + 1}
	db, err := Open("db", &Options{FS: vfs.NewMem(), Clock: fakeClock(), Log: skipping, catchUp: smallCatchUp})
	if !errors.Is(err, ErrDiverged) {
		if err == nil {
			db.Close()
		}
		t.Fatalf("open on a log that skips a record: %v, want ErrDiverged", err)
	}
}

// gatedLog is a memLog whose reads wait while its gate is shut, and that
// records how many records each read asked for.
type gatedLog struct {
	*memLog
	mu    sync.Mutex
	gate  chan struct{} // closed while reads may go on
	maxes []int
}

func (l *gatedLog) Read(ctx context.Context, from Seq, max int) ([][]byte, error) {
	l.mu.Lock()
	gate := l.gate
	l.mu.Unlock()
	select {
	case <-gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	l.mu.Lock()
	l.maxes = append(l.maxes, max)
	l.mu.Unlock()
	return l.memLog.Read(ctx, from, max)
}

// asked returns how many records each read since the last call asked for.
func (l *gatedLog) asked() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.maxes
	l.maxes = nil
	return m
}

// TestFollowFarBehind: a running node cut off from the log while another
// writes more than readFar events catches up, once the log is back, in
// large reads (readFar records: a few, not one read of readBatch after
// another), holds what the writing node holds, and then follows one read
// of readBatch at a time again.
func TestFollowFarBehind(t *testing.T) {
	t.Parallel()
	log := newMemLog()
	a := openSmall(t, vfs.NewMem(), log)
	open := make(chan struct{})
	close(open)
	gated := &gatedLog{memLog: log, gate: open}
	b := openSmall(t, vfs.NewMem(), gated)
	gated.mu.Lock()
	gated.gate = make(chan struct{}) // cut off
	gated.mu.Unlock()

	fillShared(t, a, smallCatchUp.readFar+4*readBatch)
	lag := int(a.Head() - b.Head())
	// The node sees how far behind it is (its probe reads the head), as a
	// node cut off from the stream's replicas but not its leader would.
	deadline := time.Now().Add(time.Minute)
	for st, err := b.Stats(); st.LogHead < a.Head(); st, err = b.Stats() {
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after the writes the cut-off node's probe sees head %d, want %d", st.LogHead, a.Head())
		}
		time.Sleep(10 * time.Millisecond)
	}
	gated.asked()
	gated.mu.Lock()
	close(gated.gate)
	gated.mu.Unlock()
	waitApplied(t, b, a.Head())
	asked := gated.asked()
	if far := smallCatchUp.readFar; !slices.Contains(asked, far) || len(asked) >= lag/readBatch {
		t.Errorf("%d events behind, the node read %v records at a time: want reads of %d, fewer than %d reads", lag, asked, far, lag/readBatch)
	}
	sameState(t, a, b)
	if err := b.Verify(ctx); err != nil {
		t.Error(err)
	}

	if _, err := a.PutObject(ctx, alice, "/alice/cal/", "after.ics", event("after"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, b, a.Head())
	// A follower's read waits for the next record (memLog.Read blocks), so
	// the read that brings "after" may have begun, and been counted, before
	// the catch-up's reads were taken above: look at the last of them all.
	asked = append(asked, gated.asked()...)
	if len(asked) == 0 || asked[len(asked)-1] != readBatch {
		t.Errorf("caught up, the node read %v records at a time, want %d last", asked, readBatch)
	}
}

// garbledLog is a memLog whose record bad does not decode.
type garbledLog struct {
	*memLog
	bad Seq
}

func (l *garbledLog) Read(ctx context.Context, from Seq, max int) ([][]byte, error) {
	recs, err := l.memLog.Read(ctx, from, max)
	if i := int(l.bad - from); err == nil && l.bad >= from && i < len(recs) {
		recs = slices.Clone(recs)
		recs[i] = []byte{0xff, 0xff, 0xff}
	}
	return recs, err
}

// TestCatchUpBulkUndecodable: a record that does not decode, in the
// middle of a chunk the decoder hands over, stops a catch-up in bulk with
// an error naming it (the events before it applied, the decoder stopped),
// and the node, opened again on the sound log, rebuilds and catches up
// to the state of the node that wrote it.
func TestCatchUpBulkUndecodable(t *testing.T) {
	t.Parallel()
	log, a, _ := bulkFixture(t)
	fs := vfs.NewMem()
	bad := Seq(3*decodeChunk + 7)
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock(), Log: &garbledLog{memLog: log, bad: bad}, catchUp: smallCatchUp})
	if err == nil {
		db.Close()
		t.Fatal("opened on a log with a record that does not decode")
	}
	if want := fmt.Sprintf("shared log record %d:", bad); !strings.Contains(err.Error(), want) {
		t.Fatalf("open: %v, want an error naming %q", err, want)
	}
	again := openSmall(t, fs, log)
	if again.Head() != a.Head() {
		t.Fatalf("opened again at %d, the log's head is %d", again.Head(), a.Head())
	}
	sameState(t, a, again)
	if err := again.Verify(ctx); err != nil {
		t.Error(err)
	}
}

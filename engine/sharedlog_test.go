package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// memLog is a SharedLog in memory, for engines of one process.
type memLog struct {
	// lag, when set, delays every read: followers fall behind.
	lag time.Duration
	// lose, when set, makes the next append succeed without storing
	// anything: a store that loses an acknowledged write.
	lose bool

	mu      sync.Mutex
	recs    [][]byte
	id      []byte
	changed chan struct{} // closed and replaced on every append
}

func newMemLog() *memLog { return &memLog{changed: make(chan struct{})} }

func (l *memLog) Append(_ context.Context, after Seq, records [][]byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if head := Seq(len(l.recs)); head != after {
		return &LogConflictError{Head: head}
	}
	if l.lose {
		l.lose = false
		return nil
	}
	for _, r := range records {
		l.recs = append(l.recs, bytes.Clone(r))
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return nil
}

func (l *memLog) Read(ctx context.Context, from Seq, max int) ([][]byte, error) {
	time.Sleep(l.lag)
	for {
		l.mu.Lock()
		if n := Seq(len(l.recs)); from <= n {
			out := l.recs[from-1 : min(n, from-1+Seq(max))]
			l.mu.Unlock()
			return out, nil
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (l *memLog) Head(context.Context) (Seq, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Seq(len(l.recs)), nil
}

func (l *memLog) Identity(_ context.Context, proposed []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.id == nil {
		l.id = bytes.Clone(proposed)
	}
	return l.id, nil
}

// mustOpenShared opens a database on its own in-memory filesystem that
// appends to and follows log.
func mustOpenShared(tb testing.TB, log SharedLog) *DB {
	tb.Helper()
	return mustOpenSharedFS(tb, vfs.NewMem(), log)
}

// waitApplied waits until db has applied the log up to head.
func waitApplied(tb testing.TB, db *DB, head Seq) {
	tb.Helper()
	if err := db.WaitFor(ctx, head); err != nil {
		tb.Fatal(err)
	}
}

// sameState fails unless a and b hold the same records, the log's and
// every projection's, byte for byte (meta records are each node's own).
func sameState(tb testing.TB, a, b *DB) {
	tb.Helper()
	read := func(db *DB) (out [][2][]byte) {
		v, err := db.acquire()
		if err != nil {
			tb.Fatal(err)
		}
		defer v.release()
		it, err := v.snap.NewIter(&pebble.IterOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		defer it.Close()
		for it.First(); it.Valid(); it.Next() {
			if it.Key()[0] != keys.Meta {
				out = append(out, [2][]byte{bytes.Clone(it.Key()), bytes.Clone(it.Value())})
			}
		}
		return out
	}
	ha, da, err := a.Digest(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	hb, dgb, err := b.Digest(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if ha != hb || !bytes.Equal(da, dgb) {
		tb.Errorf("digests differ: %d %x, %d %x", ha, da, hb, dgb)
	}
	ra, rb := read(a), read(b)
	for i := range max(len(ra), len(rb)) {
		if i >= len(ra) || i >= len(rb) || !bytes.Equal(ra[i][0], rb[i][0]) || !bytes.Equal(ra[i][1], rb[i][1]) {
			tb.Fatalf("the nodes differ at record %d of %d/%d", i, len(ra), len(rb))
		}
	}
}

// TestSharedLogIfMatchRace: two engines on one shared log race a PUT with
// If-Match on the same object, round after round: exactly one wins each
// round, the other gets 412's error; afterwards both hold the same log and
// projections, and each verifies.
func TestSharedLogIfMatchRace(t *testing.T) {
	t.Parallel()
	log := newMemLog()
	a, b := mustOpenShared(t, log), mustOpenShared(t, log)
	if a.StoreID() != b.StoreID() {
		t.Fatalf("store ids %s and %s: the second engine did not adopt the log's", a.StoreID(), b.StoreID())
	}
	c := MustCalendar(t, a)
	res, err := a.PutObject(ctx, alice, c.Path, "x.ics", event("x"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	etag := res.ETag
	for round := range 20 {
		waitApplied(t, b, a.Head())
		var wg sync.WaitGroup
		results := make([]*PutResult, 2)
		errs := make([]error, 2)
		for i, db := range []*DB{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = db.PutObject(ctx, alice, c.Path, "x.ics", event("x"), PutOptions{IfMatch: etag})
			}()
		}
		wg.Wait()
		won := 0
		for i := range errs {
			var mismatch *ETagMismatchError
			switch {
			case errs[i] == nil:
				won++
				etag = results[i].ETag
			case !errors.As(errs[i], &mismatch):
				t.Fatalf("round %d: node %d: %v", round, i, errs[i])
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d winners, want exactly 1", round, won)
		}
	}
	head := max(a.Head(), b.Head())
	waitApplied(t, a, head)
	waitApplied(t, b, head)
	sameState(t, a, b)
	for _, db := range []*DB{a, b} {
		o, err := db.Object(c.Path, "x.ics", false)
		if err != nil || o.ETag != etag {
			t.Fatalf("x.ics: %v, ETag %v, want %s", err, o, etag)
		}
		if err := db.Verify(ctx); err != nil {
			t.Error(err)
		}
	}
}

// TestSharedLogUIDRace: the same UID put under two names on two engines at
// once: exactly one succeeds, the other gets a *UIDConflictError.
func TestSharedLogUIDRace(t *testing.T) {
	t.Parallel()
	log := newMemLog()
	a, b := mustOpenShared(t, log), mustOpenShared(t, log)
	c := MustCalendar(t, a)
	for round := range 20 {
		waitApplied(t, b, a.Head())
		uid := fmt.Sprint("uid-", round)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, db := range []*DB{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = db.PutObject(ctx, alice, c.Path, fmt.Sprintf("%s-%d.ics", uid, i), event(uid), PutOptions{})
			}()
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			var conflict *UIDConflictError
			switch {
			case err == nil:
				won++
			case !errors.As(err, &conflict):
				t.Fatalf("round %d: node %d: %v", round, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d puts of one UID succeeded, want exactly 1", round, won)
		}
	}
	head := max(a.Head(), b.Head())
	waitApplied(t, a, head)
	waitApplied(t, b, head)
	sameState(t, a, b)
}

// TestSharedLogJoinLater: an engine that joins a log with events adopts
// its identity and applies them all; one that holds another log's events
// cannot join.
func TestSharedLogJoinLater(t *testing.T) {
	t.Parallel()
	log := newMemLog()
	a := mustOpenShared(t, log)
	c := MustCalendar(t, a)
	for i := range 10 {
		if _, err := a.PutObject(ctx, alice, c.Path, fmt.Sprint(i, ".ics"), event(fmt.Sprint(i)), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	b := mustOpenShared(t, log)
	waitApplied(t, b, a.Head())
	sameState(t, a, b)
	if err := b.Verify(ctx); err != nil {
		t.Error(err)
	}
	fs := vfs.NewMem()
	own, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	MustCalendar(t, own)
	if err := own.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err := Open("db", &Options{FS: fs, Log: log}); err == nil {
		db.Close()
		t.Fatal("a database with events of its own joined a shared log")
	}
}

// TestSharedLogNoRewrite: compaction and purge, which rewrite log records
// in place, are refused on a shared log (they would change one replica).
func TestSharedLogNoRewrite(t *testing.T) {
	t.Parallel()
	db := mustOpenShared(t, newMemLog())
	c := MustCalendar(t, db)
	if _, err := db.PutObject(ctx, alice, c.Path, "a.ics", event("a"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CompactLog(ctx, alice, zeroTime); !errors.Is(err, ErrConflict) {
		t.Errorf("CompactLog: %v, want ErrConflict", err)
	}
	if _, err := db.PurgeContent(ctx, alice, c.Path, "a.ics"); !errors.Is(err, ErrConflict) {
		t.Errorf("PurgeContent: %v, want ErrConflict", err)
	}
}

// TestDigest: the digest follows every change, and ignores each node's
// own meta records (a feed cursor).
func TestDigest(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	c := MustCalendar(t, db)
	h1, d1, err := db.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutObject(ctx, alice, c.Path, "a.ics", event("a"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	h2, d2, err := db.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h2 != h1+1 || bytes.Equal(d1, d2) {
		t.Errorf("after a put: head %d -> %d, digest changed %v", h1, h2, !bytes.Equal(d1, d2))
	}
	if err := db.pdb.Set(keys.MetaKey("cursor/test"), []byte("x"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.publish(db.Head())
	if _, d3, err := db.Digest(ctx); err != nil || !bytes.Equal(d2, d3) {
		t.Errorf("a meta record changed the digest: %v", err)
	}
}

// TestSharedLogOpenCatchesUp: Open returns only once the database holds
// the shared log up to its head, before any command runs.
func TestSharedLogOpenCatchesUp(t *testing.T) {
	t.Parallel()
	log := newMemLog()
	a := mustOpenShared(t, log)
	c := MustCalendar(t, a)
	if _, err := a.PutObject(ctx, alice, c.Path, "a.ics", event("a"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	b := mustOpenShared(t, log)
	if b.Head() != a.Head() {
		t.Fatalf("opened at %d, the log's head is %d", b.Head(), a.Head())
	}
	if _, err := b.Object(c.Path, "a.ics", false); err != nil {
		t.Fatal(err)
	}
}

// TestSharedLogReplicaRefusesWrites: a node's database opened without its
// shared log (an offline command) reads, verifies, and refuses writes.
func TestSharedLogReplicaRefusesWrites(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock(), Log: newMemLog()})
	if err != nil {
		t.Fatal(err)
	}
	c := MustCalendar(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open("db", &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Collection(c.Path); err != nil {
		t.Fatal(err)
	}
	if err := db.Verify(ctx); err != nil {
		t.Error(err)
	}
	if _, err := db.PutObject(ctx, alice, c.Path, "a.ics", event("a"), PutOptions{}); !errors.Is(err, ErrConflict) {
		t.Errorf("a put on the replica without its log: %v, want ErrConflict", err)
	}
}

// TestSharedLogFreshChecks: a node whose follower lags checks no command
// against its stale state. After Sync, a collection made on another node
// takes a put at once; and a put with If-Match of the ETag just made
// elsewhere, refused against the stale state in the writer, is checked
// again at the log's head and succeeds.
func TestSharedLogFreshChecks(t *testing.T) {
	t.Parallel()
	log := newMemLog()
	log.lag = 200 * time.Millisecond
	a, b := mustOpenShared(t, log), mustOpenShared(t, log)
	c := MustCalendar(t, a)
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := b.PutObject(ctx, alice, c.Path, "a.ics", event("a"), PutOptions{})
	if err != nil {
		t.Fatalf("put on the other node after Sync: %v", err)
	}
	if _, err := a.PutObject(ctx, alice, c.Path, "a.ics", event("a"), PutOptions{IfMatch: res.ETag}); err != nil {
		t.Fatalf("If-Match with the ETag the other node just made: %v", err)
	}
}

// TestSharedLogDiverged: a node whose acknowledged write the log lost (it
// holds event N, the log has another node's event N) finds out when it
// follows the log, says so in its Stats, and refuses writes, instead of
// serving a history the other nodes do not have and appending after it.
func TestSharedLogDiverged(t *testing.T) {
	t.Parallel()
	log := newMemLog()
	a, b := mustOpenShared(t, log), mustOpenShared(t, log)
	c := MustCalendar(t, a)
	waitApplied(t, b, a.Head())
	log.mu.Lock()
	log.lose = true
	log.mu.Unlock()
	if _, err := b.PutObject(ctx, alice, c.Path, "lost.ics", event("lost"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutObject(ctx, alice, c.Path, "kept.ics", event("kept"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		s, err := b.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(s.LogError, "diverged") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node does not say it diverged: %+v", s.LogError)
		}
	}
	if _, err := b.PutObject(ctx, alice, c.Path, "after.ics", event("after"), PutOptions{}); !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrDiverged) {
		t.Fatalf("a put on the diverged node: %v, want ErrUnavailable for ErrDiverged", err)
	}
	if err := b.Sync(ctx); !errors.Is(err, ErrDiverged) {
		t.Fatalf("Sync on the diverged node: %v, want ErrDiverged", err)
	}
}

// TestSharedLogAwaitToken: a sync token issued by one node is valid on a
// node behind it once AwaitToken returns: Changes lists the change the
// token's node made, instead of refusing the token as invalid. A token
// beyond the log's head does not wait.
func TestSharedLogAwaitToken(t *testing.T) {
	t.Parallel()
	log := newMemLog()
	log.lag = 100 * time.Millisecond
	a, b := mustOpenShared(t, log), mustOpenShared(t, log)
	c := MustCalendar(t, a)
	if _, err := a.PutObject(ctx, alice, c.Path, "x.ics", event("x"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := a.Changes(c.Path, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutObject(ctx, alice, c.Path, "y.ics", event("y"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	after, err := a.Changes(c.Path, before.Token, 0)
	if err != nil || len(after.Changes) != 1 {
		t.Fatalf("changes on the writing node: %+v, %v", after, err)
	}
	if _, err := b.AwaitToken(ctx, after.Token); err != nil {
		t.Fatal(err)
	}
	got, err := b.Changes(c.Path, before.Token, 0)
	if err != nil || len(got.Changes) != 1 || got.Changes[0].Name != "y.ics" || got.Token != after.Token {
		t.Fatalf("changes on the other node after AwaitToken: %+v, %v; want y.ics and %s", got, err, after.Token)
	}
	if _, err := b.Changes(c.Path, after.Token, 0); err != nil {
		t.Fatalf("the other node's token on this node: %v", err)
	}
	ahead := a.SyncToken(c.ID, a.Head()+100)
	if waited, err := b.AwaitToken(ctx, ahead); waited || err != nil {
		t.Fatalf("a token beyond the log's head: waited %v, %v; want no wait", waited, err)
	}
}

// faultyLog is a memLog whose reads fail, or skip a record, from a
// sequence number on.
//
// However the reader splits the log into reads: a read that reaches
// failFrom ends before it, and the next one fails; a read over skip
// returns the records around it without it.
type faultyLog struct {
	*memLog
	failFrom Seq // reads from here on fail
	skip     Seq // reads leave this record out
}

var errReadFailed = errors.New("read failed")

func (l *faultyLog) Read(ctx context.Context, from Seq, max int) ([][]byte, error) {
	if l.failFrom != 0 {
		if from >= l.failFrom {
			return nil, errReadFailed
		}
		max = min(max, int(l.failFrom-from))
	}
	if l.skip == 0 || l.skip < from || l.skip >= from+Seq(max) {
		return l.memLog.Read(ctx, from, max)
	}
	recs, err := l.memLog.Read(ctx, from, max+1)
	if i := int(l.skip - from); err == nil && i < len(recs) {
		recs = append(slices.Clip(recs[:i]), recs[i+1:]...)
	}
	return recs, err
}

// fillShared writes n objects through a calendar of db, 16 at a time.
func fillShared(t *testing.T, db *DB, n int) {
	t.Helper()
	c := MustCalendar(t, db)
	var g sync.WaitGroup
	for w := range 16 {
		g.Go(func() {
			for i := w; i < n; i += 16 {
				if _, err := db.PutObject(ctx, alice, c.Path, fmt.Sprint(i, ".ics"), event(fmt.Sprint(i)), PutOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	g.Wait()
}

// TestSharedLogCatchUpPipelined: a node opened far behind the log (several
// read batches) reads ahead and applies many reads in one commit: it opens
// at the log's head with the same log and projections as the node that
// wrote them. A read that fails midway fails the open, keeping what was
// committed, and the next open resumes from there; a log that skips a
// record is refused as a divergence, however the reads were merged.
func TestSharedLogCatchUpPipelined(t *testing.T) {
	t.Parallel()
	log := newMemLog()
	a := mustOpenShared(t, log)
	fillShared(t, a, 3*readBatch)
	head := a.Head()

	b := mustOpenShared(t, log)
	if b.Head() != head {
		t.Fatalf("opened at %d, the log's head is %d", b.Head(), head)
	}
	sameState(t, a, b)
	if err := b.Verify(ctx); err != nil {
		t.Error(err)
	}

	fs := vfs.NewMem()
	failing := &faultyLog{memLog: log, failFrom: 2*readBatch + 1}
	if db, err := Open("db", &Options{FS: fs, Clock: fakeClock(), Log: failing}); !errors.Is(err, errReadFailed) {
		if err == nil {
			db.Close()
		}
		t.Fatalf("open with reads failing midway: %v, want the read's error", err)
	}
	c := mustOpenSharedFS(t, fs, log)
	if c.Head() != head {
		t.Fatalf("reopened at %d, the log's head is %d", c.Head(), head)
	}
	sameState(t, a, c)

	skipping := &faultyLog{memLog: log, skip: readBatch + 1}
	db, err := Open("db", &Options{FS: vfs.NewMem(), Clock: fakeClock(), Log: skipping})
	if !errors.Is(err, ErrDiverged) {
		if err == nil {
			db.Close()
		}
		t.Fatalf("open on a log that skips a record: %v, want ErrDiverged", err)
	}
}

// mustOpenSharedFS opens the database on fs that appends to and follows
// log.
func mustOpenSharedFS(tb testing.TB, fs vfs.FS, log SharedLog) *DB {
	tb.Helper()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock(), Log: log})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// TestSharedLogDivergedAtOpen: a stopped node whose replica is not a
// prefix of the log is refused at open with ErrDiverged — one ahead of
// the log (its last, acknowledged write was lost), and one whose last
// event differs from the log's event of that number (another node's
// write took the number) — instead of serving another history until a
// new write happens to reveal it.
func TestSharedLogDivergedAtOpen(t *testing.T) {
	t.Parallel()
	log := newMemLog()
	a := mustOpenShared(t, log)
	c := MustCalendar(t, a)
	fs := vfs.NewMem()
	b, err := Open("db", &Options{FS: fs, Clock: fakeClock(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	log.lose = true
	log.mu.Unlock()
	if _, err := b.PutObject(ctx, alice, c.Path, "lost.ics", event("lost"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	reopen := func(why string) {
		t.Helper()
		db, err := Open("db", &Options{FS: fs, Clock: fakeClock(), Log: log})
		if err == nil {
			db.Close()
		}
		if !errors.Is(err, ErrDiverged) {
			t.Fatalf("open of a replica %s: %v, want ErrDiverged", why, err)
		}
	}
	reopen("ahead of the log")
	_, err = Open("db", &Options{FS: fs, Clock: fakeClock(), Log: log})
	var ahead *ReplicaAheadError
	if !errors.As(err, &ahead) || ahead.Replica != ahead.Log+1 {
		t.Fatalf("open of a replica one event ahead of the log: %v, want a ReplicaAheadError one event apart", err)
	}
	if _, err := a.PutObject(ctx, alice, c.Path, "kept.ics", event("kept"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	reopen("whose last event is not the log's")
	// A replica that is the log's prefix opens (and catches up).
	d := mustOpenSharedFS(t, vfs.NewMem(), log)
	if d.Head() != a.Head() {
		t.Fatalf("a fresh replica opened at %d, the log's head is %d", d.Head(), a.Head())
	}
}

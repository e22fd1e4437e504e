package jslog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestAppendRetried: on a replicated stream, an append called again with
// the same records after the first stored them (its answer lost) returns
// nil and stores nothing more, a single message as a batch: the stream
// drops the retry by its message id. The same records appended by another
// Log, or other records after the same head, are conflicts, never taken
// for a duplicate.
func TestAppendRetried(t *testing.T) {
	servers := startCluster(t, 3)
	a, b := mustLog(t, servers[0], 3), mustLog(t, servers[1], 3)
	one := [][]byte{[]byte("one")}
	batch := [][]byte{[]byte("two"), []byte("three")}
	for _, step := range []struct {
		after engine.Seq
		recs  [][]byte
	}{{0, one}, {0, one}, {1, batch}, {1, batch}} {
		if err := a.Append(ctx, step.after, step.recs); err != nil {
			t.Fatalf("append %q after %d: %v", step.recs, step.after, err)
		}
	}
	mustHold(t, a, "one", "two", "three")
	var conflict *engine.LogConflictError
	if err := b.Append(ctx, 1, batch); !errors.As(err, &conflict) {
		t.Fatalf("another log's append of the same batch after 1: %v, want a conflict", err)
	}
	if err := a.Append(ctx, 1, [][]byte{[]byte("two"), []byte("other")}); !errors.As(err, &conflict) {
		t.Fatalf("other records after 1: %v, want a conflict", err)
	}
	if err := a.Append(ctx, 0, one[:1]); err != nil {
		t.Fatalf("the first append again: %v", err)
	}
	mustHold(t, a, "one", "two", "three")
}

// TestAppendRetriedLone: on a lone server's stream (R1), a retried batch
// is dropped as a duplicate too; a retried single message is refused as a
// conflict (the server checks the expected sequence before the id there),
// which the engine resolves by reading the log back. Neither is stored
// twice.
func TestAppendRetriedLone(t *testing.T) {
	l := mustLog(t, startCluster(t, 1)[0], 1)
	if err := l.Append(ctx, 0, [][]byte{[]byte("one")}); err != nil {
		t.Fatal(err)
	}
	var conflict *engine.LogConflictError
	if err := l.Append(ctx, 0, [][]byte{[]byte("one")}); err != nil && !errors.As(err, &conflict) {
		t.Fatalf("a single message again: %v, want nil or a conflict", err)
	}
	batch := [][]byte{[]byte("two"), []byte("three")}
	for range 2 {
		if err := l.Append(ctx, 1, batch); err != nil {
			t.Fatalf("a batch after 1: %v", err)
		}
	}
	mustHold(t, l, "one", "two", "three")
}

// mustHold fails unless the log holds exactly want.
func mustHold(t *testing.T, l *Log, want ...string) {
	t.Helper()
	head, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Read(ctx, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if head != engine.Seq(len(want)) || fmt.Sprintf("%s", got) != fmt.Sprint(want) {
		t.Fatalf("the log holds %s (head %d), want %s", got, head, want)
	}
}

// ackLost is a log whose next append stores its records but returns an
// error, as if the stream leader died before answering.
type ackLost struct {
	*Log
	mu   sync.Mutex
	lose bool
}

func (l *ackLost) Append(ctx context.Context, after engine.Seq, records [][]byte) error {
	err := l.Log.Append(ctx, after, records)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && l.lose {
		l.lose = false
		return errors.New("test: the answer was lost")
	}
	return err
}

// TestEngineAckLost: an engine whose append's answer is lost retries it,
// and the write succeeds, stored once, as the node's own and not a lost
// race (a PUT with If-None-Match does not fail its own precondition): the
// replicated stream answers the retry as a duplicate (and were it not to,
// the engine would read its records back). The other node holds the same
// log and projections.
func TestEngineAckLost(t *testing.T) {
	servers := startCluster(t, 3)
	lossy := &ackLost{Log: mustLog(t, servers[0], 3)}
	a, b := mustNode(t, lossy), mustNode(t, mustLog(t, servers[1], 3))
	if _, err := a.CreateCollection(ctx, alice, engine.CollectionSpec{Path: "/alice/", Kind: engine.KindHome, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	c, err := a.CreateCollection(ctx, alice, engine.CollectionSpec{Path: "/alice/cal/", Kind: engine.KindCalendar, Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	lossy.mu.Lock()
	lossy.lose = true
	lossy.mu.Unlock()
	res, err := a.PutObject(ctx, alice, c.Path, "x.ics", event("x"), engine.PutOptions{IfNoneMatch: true})
	if err != nil {
		t.Fatalf("a put whose append's answer was lost: %v", err)
	}
	st, err := a.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.LogRetries != 1 || st.LogConflicts != 0 {
		t.Fatalf("%d retries, %d conflicts: want 1 and 0 (the stream answers the retry as a duplicate)", st.LogRetries, st.LogConflicts)
	}
	head, err := lossy.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head != res.Seq || a.Head() != head {
		t.Fatalf("log head %d, node at %d, put at %d: want the put stored once, last", head, a.Head(), res.Seq)
	}
	waitApplied(t, b, head)
	if o, err := b.Object(c.Path, "x.ics", false); err != nil || o.ETag != res.ETag {
		t.Fatalf("x.ics on the other node: %v, %v", o, err)
	}
	ha, da, err := a.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hb, db, err := b.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ha != hb || string(da) != string(db) {
		t.Fatalf("the nodes differ: %d %x, %d %x", ha, da, hb, db)
	}
}

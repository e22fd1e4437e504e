package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// flakyLog is a SharedLog whose next appends fail without an answer, as
// when the stream leader dies with the request or its ack is lost.
type flakyLog struct {
	*memLog

	mu sync.Mutex
	// lostAcks appends store their records and then fail.
	lostAcks int
	// lost appends fail without storing anything, after calling
	// meanwhile (another node's write, when it is set).
	lost      int
	meanwhile func()
	// appends counts the calls of Append.
	appends int
	// hungHeads asks of the head go unanswered until their context ends.
	hungHeads int
	// headDelay: every ask of the head is answered after it (or its
	// context's end).
	headDelay time.Duration
}

func (l *flakyLog) Head(ctx context.Context) (Seq, error) {
	l.mu.Lock()
	hang := l.hungHeads > 0
	if hang {
		l.hungHeads--
	}
	delay := l.headDelay
	l.mu.Unlock()
	if hang {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return l.memLog.Head(ctx)
}

// errNoAnswer is what a flakyLog's failed append returns.
var errNoAnswer = errors.New("test: no answer from the log")

func (l *flakyLog) Append(ctx context.Context, after Seq, records [][]byte) error {
	l.mu.Lock()
	l.appends++
	lostAck, lost, meanwhile := l.lostAcks > 0, l.lost > 0, l.meanwhile
	switch {
	case lostAck:
		l.lostAcks--
	case lost:
		l.lost--
	}
	l.mu.Unlock()
	switch {
	case lostAck:
		if err := l.memLog.Append(ctx, after, records); err != nil {
			return err
		}
		return errNoAnswer
	case lost:
		if meanwhile != nil {
			meanwhile()
		}
		return errNoAnswer
	}
	return l.memLog.Append(ctx, after, records)
}

// flakyNodes opens node a on a flakyLog and node b on the log under it,
// with a calendar that b has applied.
func flakyNodes(t *testing.T) (*memLog, *flakyLog, *DB, *DB, *Collection) {
	t.Helper()
	log := newMemLog()
	flaky := &flakyLog{memLog: log}
	a, b := mustOpenShared(t, flaky), mustOpenShared(t, log)
	c := MustCalendar(t, a)
	waitApplied(t, b, a.Head())
	return log, flaky, a, b, c
}

// TestSharedLogAppendAckLost: an append whose records the log stored but
// whose answer was lost is tried again, and the retry, refused because
// the log is past the head it expects, is recognised as the node's own
// append: the write succeeds, stored once, and a PUT with If-None-Match
// does not fail its own precondition (the write a retry without the check
// would refuse with 412). Other nodes see the same log and projections.
func TestSharedLogAppendAckLost(t *testing.T) {
	t.Parallel()
	log, flaky, a, b, c := flakyNodes(t)
	before := a.Head()
	flaky.mu.Lock()
	flaky.lostAcks, flaky.appends = 1, 0
	flaky.mu.Unlock()
	res, err := a.PutObject(ctx, alice, c.Path, "x.ics", event("x"), PutOptions{IfNoneMatch: true})
	if err != nil {
		t.Fatalf("a put whose first append's answer was lost: %v", err)
	}
	if head, _ := log.Head(ctx); head != before+1 || res.Seq != head || a.Head() != head {
		t.Fatalf("log head %d, put at %d, node at %d: want the one event at %d", head, res.Seq, a.Head(), before+1)
	}
	st, err := a.Stats()
	if err != nil {
		t.Fatal(err)
	}
	flaky.mu.Lock()
	appends := flaky.appends
	flaky.mu.Unlock()
	if appends != 2 || st.LogRetries != 1 || st.LogConflicts != 0 {
		t.Fatalf("%d appends, %d retries, %d conflicts: want 2, 1 and 0", appends, st.LogRetries, st.LogConflicts)
	}
	waitApplied(t, b, a.Head())
	sameState(t, a, b)
	if o, err := b.Object(c.Path, "x.ics", false); err != nil || o.ETag != res.ETag {
		t.Fatalf("x.ics on the other node: %v, %v, want ETag %s", o, err, res.ETag)
	}
	if err := a.Verify(ctx); err != nil {
		t.Error(err)
	}
}

// TestSharedLogRetryAfterCompetingAppend: an append that failed without
// storing anything, tried again after another node appended, is a lost
// race and not the node's own append: the command runs again against the
// other node's write and fails its precondition (If-None-Match on the
// name the other node took), and the log holds the other node's object
// only.
func TestSharedLogRetryAfterCompetingAppend(t *testing.T) {
	t.Parallel()
	log, flaky, a, b, c := flakyNodes(t)
	var theirs *PutResult
	flaky.mu.Lock()
	flaky.lost = 1
	flaky.meanwhile = func() {
		var err error
		if theirs, err = b.PutObject(ctx, alice, c.Path, "x.ics", event("x"), PutOptions{IfNoneMatch: true}); err != nil {
			t.Errorf("the other node's put: %v", err)
		}
	}
	flaky.mu.Unlock()
	_, err := a.PutObject(ctx, alice, c.Path, "x.ics", event("x"), PutOptions{IfNoneMatch: true})
	var mismatch *ETagMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("a put retried after another node took the name: %v, want the If-None-Match failure", err)
	}
	st, err := a.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.LogRetries != 1 || st.LogConflicts != 1 {
		t.Fatalf("%d retries, %d conflicts: want 1 and 1", st.LogRetries, st.LogConflicts)
	}
	if head, _ := log.Head(ctx); theirs == nil || head != theirs.Seq {
		t.Fatalf("log head %d, the other node's put %+v: want only the other node's event after the calendar", head, theirs)
	}
	waitApplied(t, a, b.Head())
	sameState(t, a, b)
	if o, err := a.Object(c.Path, "x.ics", false); err != nil || o.ETag != theirs.ETag {
		t.Fatalf("x.ics: %v, %v, want the other node's ETag %s", o, err, theirs.ETag)
	}
}

// TestSharedLogHeadAskedAgain: a write's Sync whose ask of the log's head
// goes unanswered (the stream leader that took it died) asks again, and
// returns once the log answers, instead of failing when its context ends.
func TestSharedLogHeadAskedAgain(t *testing.T) {
	t.Parallel()
	log := newMemLog()
	flaky := &flakyLog{memLog: log}
	a := mustOpenShared(t, flaky)
	MustCalendar(t, a)
	flaky.mu.Lock()
	flaky.hungHeads = 2
	flaky.mu.Unlock()
	// Asking again, Sync returns within a few seconds (the two unanswered
	// asks cost 1.5 s); without, it waits for the bound and fails. The
	// bound is a loaded machine's: 5 s (10 × headAttempt) was the -race
	// build's Sync under load 30 with little to spare.
	c, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := a.Sync(c); err != nil {
		t.Fatalf("Sync with two asks of the head unanswered: %v", err)
	}
	flaky.mu.Lock()
	defer flaky.mu.Unlock()
	if flaky.hungHeads != 0 {
		t.Fatalf("%d unanswered asks left: Sync did not ask", flaky.hungHeads)
	}
}

// TestSharedLogSlowHead: a log that answers every ask of its head, but
// later than headAttempt (a loaded machine), is heard: the asks again
// wait longer, and Sync returns instead of cutting every ask short until
// its context ends.
func TestSharedLogSlowHead(t *testing.T) {
	t.Parallel()
	log := newMemLog()
	slow := &flakyLog{memLog: log}
	a := mustOpenShared(t, slow)
	MustCalendar(t, a)
	slow.mu.Lock()
	slow.headDelay = 3 * headAttempt / 2
	slow.mu.Unlock()
	// Without longer waits every ask is cut short and Sync fails at the
	// bound, a loaded machine's (it was 10 s).
	c, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := a.Sync(c); err != nil {
		t.Fatalf("Sync on a log that answers its head after %s: %v", 3*headAttempt/2, err)
	}
}

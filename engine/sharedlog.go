package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// SharedLog is an event log that several engines append to and that each
// applies, in order, to its own projections (Options.Log): a replicated
// NATS JetStream stream in a cluster (package jslog). The engine never
// truncates it.
//
// Without one, the engine's own Pebble database is the log: the writer
// puts each group's log records into the same batch as the projections
// they derive, and one fsync makes both durable. With one, the log is the
// source of truth and of the order, and the engine's log records are a
// replica of it: the writer checks a group's commands against its
// projections, appends the group's events to the shared log with
// compare-and-set on the log's last sequence number (Append), and only
// once they are stored there writes them, and what they derive, to
// Pebble, and answers. When another engine appended first (a
// *LogConflictError) it applies what the others appended and runs the
// group's commands again, so preconditions (If-Match, UID uniqueness,
// existence) hold across engines. A follower applies the others' events
// as they come. Everything that reads the log (views, the feed, history,
// restore, Verify, Rebuild) reads the replica, which holds the same
// records under the same sequence numbers.
type SharedLog interface {
	// Append stores records, the encoded events numbered after+1,
	// after+2, …, all or none, if the log's last sequence number is after.
	// Otherwise it stores nothing and returns a *LogConflictError. Any
	// other error leaves the outcome unknown (the records may be stored).
	Append(ctx context.Context, after Seq, records [][]byte) error
	// Read returns up to max records from sequence number from on, in
	// order, waiting until there is at least one or ctx ends.
	Read(ctx context.Context, from Seq, max int) ([][]byte, error)
	// Head returns the log's last sequence number (0 when empty).
	Head(ctx context.Context) (Seq, error)
	// Identity returns the log's store identity, recording proposed as
	// that identity if the log has none yet: the engines of one log share
	// a store id and secret, so that ETags and sync tokens are valid on
	// all of them.
	Identity(ctx context.Context, proposed []byte) ([]byte, error)
}

// LogConflictError is the error of SharedLog.Append when the log's last
// sequence number was not the one expected: another engine appended first.
type LogConflictError struct {
	Head Seq // the log's last sequence number, when known (0 if not)
}

func (e *LogConflictError) Error() string {
	return fmt.Sprintf("engine: shared log: another writer appended first (head %d)", e.Head)
}

// ErrUnavailable: the shared log cannot be reached or has no quorum, or
// the write lost the race to other engines too often: nothing was
// appended, or it is unknown whether it was; reads still work. Try again
// later.
var ErrUnavailable = errors.New("engine: the shared log is unavailable")

// logTimeout bounds one call of the shared log on the writer.
const logTimeout = 10 * time.Second

// readBatch is how many records a catch-up reads from the shared log at
// once.
const readBatch = 512

// sharedState is what a node knows of its shared log, for Stats: the
// log's head when it last looked, why the look failed, and how long
// appends take.
type sharedState struct {
	head          atomic.Uint64
	lastErr       atomic.Pointer[string] // nil when the last look reached the log
	diverged      atomic.Pointer[error]  // set once the replica differs from the log
	retries       atomic.Int64           // append attempts tried again (Stats.LogRetries)
	appendSeconds *histogram
}

func newSharedState() *sharedState {
	// From a quorum of RAM disks' 100µs to the writer's 10 s bound.
	return &sharedState{appendSeconds: newHistogram([]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10})}
}

// looked records the outcome of a look at the log's head.
func (s *sharedState) looked(head Seq, err error) {
	if err != nil {
		msg := err.Error()
		s.lastErr.Store(&msg)
		return
	}
	s.lastErr.Store(nil)
	for {
		old := s.head.Load()
		if uint64(head) <= old || s.head.CompareAndSwap(old, uint64(head)) {
			return
		}
	}
}

func (s *sharedState) stats(st *Stats) {
	st.LogHead = Seq(s.head.Load())
	st.LogRetries = s.retries.Load()
	if e := s.lastErr.Load(); e != nil {
		st.LogError = *e
	}
	if e := s.diverged.Load(); e != nil {
		st.LogError = (*e).Error()
	}
	st.AppendSeconds = s.appendSeconds.snapshot()
}

// Shared reports whether the database is a node of a cluster: it appends
// to and follows a shared log (Options.Log).
func (db *DB) Shared() bool { return db.opts.Log != nil }

// logHead asks the shared log for its head and records the answer. An
// ask unanswered within headAttempt is asked again until ctx ends: the
// stream leader that took it may have died, and its successor, elected
// in tens of milliseconds, answers the next one (a write's Sync would
// otherwise wait out its whole bound). Each ask again may take twice as
// long as the one before, up to maxHeadAttempt: a log that answers in
// more than headAttempt (a loaded machine: the cluster tests' nodes
// under load 38 failed their open when every ask was cut at 500 ms) is
// heard instead of asked until ctx ends. An answer that is an error (no
// quorum) is not asked again.
func (db *DB) logHead(ctx context.Context) (Seq, error) {
	for bound := headAttempt; ; bound = min(2*bound, maxHeadAttempt) {
		actx, cancel := context.WithTimeout(ctx, bound)
		head, err := db.opts.Log.Head(actx)
		timedOut := actx.Err() != nil
		cancel()
		if err == nil || !timedOut || ctx.Err() != nil {
			db.shared.looked(head, err)
			return head, err
		}
	}
}

// headAttempt bounds the first ask of the shared log's head (logHead),
// maxHeadAttempt the later ones.
const (
	headAttempt    = 500 * time.Millisecond
	maxHeadAttempt = 4 * time.Second
)

// logProbeInterval is how often a node looks at the shared log's head,
// so that Stats says how far behind it is even when nothing is written.
const logProbeInterval = time.Second

// probe looks at the shared log's head every logProbeInterval until ctx
// ends.
func (db *DB) probe(ctx context.Context) {
	t := time.NewTicker(logProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, logTimeout)
		_, _ = db.logHead(pctx)
		cancel()
	}
}

// appendShared appends tx's events to the shared log. On a conflict it
// catches up (applying what the other engines appended) and reports
// retry: the group's commands must run again against the new state.
//
// An attempt that fails without an answer (a timeout, a stream leader
// that died with the request) is tried again after a short backoff, each
// attempt bounded by appendAttempt, all of them by logTimeout: a new
// leader is elected in tens of milliseconds, and the first write after
// it should not wait out one long timeout. A retry is safe because
// SharedLog.Append is idempotent and expects the same last sequence
// number: at most one attempt is stored. When a retry finds the log
// ahead (a conflict), the records after the expected head are read back
// and compared with the group's (as follow's checkApplied compares what
// a node applied): the group's own, stored by an attempt whose answer was
// lost, are a success, not a lost race.
func (db *DB) appendShared(tx *txn, acks chan<- pending) (retry bool, err error) {
	if err := db.diverged(); err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	defer cancel()
	start := time.Now()
	after := db.nextSeq - 1
	attempt := appendAttempt + time.Duration(recordsSize(tx.records))*time.Second/appendRate
	unsure := false // an earlier attempt may have stored the records
	for backoff := appendBackoff; ; backoff = min(2*backoff, appendAttempt) {
		actx, acancel := context.WithTimeout(ctx, attempt)
		err = db.opts.Log.Append(actx, after, tx.records)
		acancel()
		var conflict *LogConflictError
		if errors.As(err, &conflict) && unsure {
			ours, rerr := db.storedAsOurs(ctx, after, tx.records)
			switch {
			case rerr != nil:
				return false, fmt.Errorf("%w: reading back an append whose answer was lost: %w", ErrUnavailable, rerr)
			case ours:
				err = nil
			}
		}
		if err == nil {
			db.shared.appendSeconds.observe(time.Since(start).Seconds())
			db.shared.looked(tx.next-1, nil)
			db.conflicts = 0
			return false, nil
		}
		if errors.As(err, &conflict) {
			return db.lostRace(ctx, conflict, acks)
		}
		unsure = true
		db.shared.retries.Add(1)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
}

// A shared log append: each attempt is bounded by appendAttempt (and a
// second for each appendRate bytes of records), attempts that fail
// without an answer are retried after appendBackoff, doubling up to
// appendAttempt, within logTimeout.
const (
	appendAttempt = time.Second
	appendRate    = 16 << 20
	appendBackoff = 20 * time.Millisecond
)

// lostRace handles an append refused because another engine appended
// first: it catches up and reports retry, or gives up with ErrUnavailable
// after losing the race for logTimeout.
func (db *DB) lostRace(ctx context.Context, conflict *LogConflictError, acks chan<- pending) (retry bool, err error) {
	db.logConflicts.Add(1)
	if db.conflicts == 0 {
		db.conflictSince = time.Now()
	}
	if db.conflicts++; time.Since(db.conflictSince) > logTimeout {
		n := db.conflicts
		db.conflicts = 0
		return false, fmt.Errorf("%w: lost the race to append %d times in %s", ErrUnavailable, n, logTimeout)
	}
	waitPipeline(acks)
	// A replicated stream does not say its head (0): catchUp reads what
	// there is, the fastest way back into the race.
	if err := db.catchUp(ctx, conflict.Head); err != nil {
		return false, fmt.Errorf("%w: catching up: %w", ErrUnavailable, err)
	}
	return true, nil
}

// storedAsOurs reports whether the shared log holds records right after
// after: whether an append whose answer was lost stored them. The log is
// past after (it refused the append as a conflict), so the reads find
// what is there.
func (db *DB) storedAsOurs(ctx context.Context, after Seq, records [][]byte) (bool, error) {
	for from := after + 1; from <= after+Seq(len(records)); {
		recs, err := db.opts.Log.Read(ctx, from, len(records)-int(from-after-1))
		if err != nil {
			return false, err
		}
		for _, rec := range recs {
			if !bytes.Equal(rec, records[from-after-1]) {
				return false, nil
			}
			if from++; from > after+Seq(len(records)) {
				break
			}
		}
	}
	return true, nil
}

// Sync returns once the database has applied every event the shared log
// (Options.Log) held when Sync was called: checks made after it see every
// write acknowledged by any node before. dav calls it before a write's
// checks, so that a node behind the log does not refuse a write (404, 409,
// 412) that the log's state allows. Without a shared log it returns at
// once.
//
// Errors: ErrUnavailable, ctx.Err(), ErrClosed.
func (db *DB) Sync(ctx context.Context) error {
	if db.opts.Log == nil {
		return nil
	}
	if err := db.diverged(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, logTimeout)
	defer cancel()
	head, err := db.logHead(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := db.WaitFor(ctx, head); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: not caught up with the log's head %d within %s", ErrUnavailable, head, logTimeout)
		}
		return err
	}
	return nil
}

// tokenWait bounds how long AwaitToken waits for a node to apply what a
// sync token names.
const tokenWait = 5 * time.Second

// AwaitToken returns once the database has applied the event a sync token
// of this store names (reporting whether it had to wait): on a cluster
// node behind the log, a token another node issued a moment ago names an
// event this one has not applied yet, and Changes would refuse it as
// invalid (the client would then sync everything again). It returns at
// once without a shared log, for a token Changes refuses anyway
// (malformed, another store's), and for one beyond the log's head (which
// no node issued). A node that does not catch up within 5 s gives up with
// ErrUnavailable: the client asks again, or another node.
//
// Errors: ErrUnavailable, ctx.Err(), ErrClosed.
func (db *DB) AwaitToken(ctx context.Context, token string) (waited bool, err error) {
	if db.opts.Log == nil {
		return false, nil
	}
	_, s, ok := db.openSyncToken(token)
	seq := Seq(s)
	if !ok || seq <= db.Head() {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, tokenWait)
	defer cancel()
	if head, err := db.logHead(ctx); err == nil && seq > head {
		return false, nil
	}
	if err := db.WaitFor(ctx, seq); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return true, fmt.Errorf("%w: not caught up with the sync token's event %d within %s (at %d)", ErrUnavailable, seq, tokenWait, db.Head())
		}
		return true, err
	}
	return true, nil
}

// staleRefusal reports whether a group that appended nothing refused a
// command against a state behind the shared log's head, after catching up
// with it: the group must run again. A group that appends needs no such
// check: its compare-and-set succeeds only if the state it checked was the
// head's.
func (db *DB) staleRefusal(errs []error, acks chan<- pending) bool {
	if !slices.ContainsFunc(errs, func(err error) bool { return err != nil }) || db.staleRetries >= maxStaleRetries {
		db.staleRetries = 0
		return false
	}
	db.staleRetries++
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	defer cancel()
	head, err := db.logHead(ctx)
	if err != nil || head < db.nextSeq {
		return false // the refusal stands: the state was the head's, or the log cannot say
	}
	waitPipeline(acks)
	if err := db.catchUp(ctx, head); err != nil {
		db.opts.Logger.Warn("engine: catching up with the shared log", "err", err)
		return false
	}
	return true
}

// maxStaleRetries bounds how often a refusing group runs again after
// catching up, when other nodes keep appending meanwhile.
const maxStaleRetries = 3

// waitPipeline returns once every group handed to the acknowledger is
// durable and published.
func waitPipeline(acks chan<- pending) {
	barrier := make(chan struct{})
	acks <- pending{barrier: barrier}
	<-barrier
}

// catchUp applies the shared log's records from db.nextSeq through head
// (what there is, waiting for one at least, when head is 0: unknown). It
// runs on the writer, with no group in flight. A known head more than a
// read batch ahead is caught up with catchUpPipelined.
func (db *DB) catchUp(ctx context.Context, head Seq) error {
	if head >= db.nextSeq+readBatch {
		return db.catchUpPipelined(ctx, db.nextSeq, head, db.applyShared)
	}
	for first := true; head == 0 && first || db.nextSeq <= head; first = false {
		recs, err := db.opts.Log.Read(ctx, db.nextSeq, readBatch)
		if err != nil {
			return err
		}
		if err := db.applyShared(db.nextSeq, recs); err != nil {
			return err
		}
	}
	return nil
}

// Catching up far behind the log: up to readsInFlight reads of readFar
// records each (or rangeBytes bytes, whichever comes first) are in flight
// at once, each in its own goroutine, so that the log's round trips and
// its server's work overlap with each other and with apply; the writer
// applies each range as it arrives, in order, in one Pebble batch (split
// at commitRecords records or commitBytes bytes). What a catch-up holds in memory
// is bounded by these: the batch being applied and at most
// readsInFlight+1 reads, about (readsInFlight+1)×rangeBytes plus a
// record, and commitBytes plus a record. A crash in between loses
// nothing: the log is the truth, and the node reads again from what it
// committed.
const (
	readFar       = 4096
	readsInFlight = 4
	rangeBytes    = 8 << 20
	commitRecords = 8192
	commitBytes   = 16 << 20
)

// catchUpSizes are the record counts a catch-up works in: reads of
// readFar, commits of commitRecords, the bulk catch-up from bulkMin
// behind; a follower more than readFar behind reads ahead in reads of
// readFar rather than one read of readBatch after another. Options.EnsureDefaults sets the
// constants; the engine's tests set smaller ones (Options.catchUp), so
// that a log of a few thousand events takes the paths a log of tens of
// thousands takes (several reads in flight, several commits, the bulk
// catch-up) at a fraction of the CPU.
type catchUpSizes struct {
	readFar, commitRecords, bulkMin int
}

// defaultCatchUp is every database's catchUpSizes outside the tests.
var defaultCatchUp = catchUpSizes{readFar: readFar, commitRecords: commitRecords, bulkMin: bulkMin}

// rangeRead is the outcome of readRange: the records read from from on,
// and the error that stopped it short, if one did.
type rangeRead struct {
	from Seq
	recs [][]byte
	err  error
}

// readRange reads n records from from on, fewer when they reach
// rangeBytes or a read fails.
func (db *DB) readRange(ctx context.Context, from Seq, n int) rangeRead {
	r := rangeRead{from: from}
	size := 0
	for len(r.recs) < n && size < rangeBytes {
		recs, err := db.opts.Log.Read(ctx, from+Seq(len(r.recs)), n-len(r.recs))
		if err != nil {
			r.err = err
			break
		}
		if r.recs == nil {
			r.recs = make([][]byte, 0, n)
		}
		r.recs = append(r.recs, recs[:min(len(recs), n-len(r.recs))]...)
		size += recordsSize(recs)
	}
	return r
}

// readAhead reads the log's records from from through to in ranges of
// readFar, up to readsInFlight of them at once, and hands each range's
// outcome over, in order, on the channels it sends: the next one is read
// while the ones before are applied. It stops when ctx ends; wg counts
// its goroutines.
func (db *DB) readAhead(ctx context.Context, wg *sync.WaitGroup, from, to Seq) <-chan chan rangeRead {
	ranges := make(chan chan rangeRead, readsInFlight-1)
	wg.Go(func() {
		defer close(ranges)
		far := Seq(db.opts.catchUp.readFar)
		for at := from; at <= to; at += far {
			r := make(chan rangeRead, 1)
			select {
			case ranges <- r:
			case <-ctx.Done():
				return
			}
			n := int(min(to-at+1, far))
			wg.Go(func() { r <- db.readRange(ctx, at, n) })
		}
	})
	return ranges
}

// catchUpPipelined applies the shared log's records from from through
// head with apply (applyShared, catchUpBulk's, or follow's), reading ahead
// (readAhead) while it applies. A range that came back short (its bytes'
// bound) is completed before the ranges after it, with reads one at a
// time. Order and gaps are apply's to check, as when it applies one read
// at a time.
func (db *DB) catchUpPipelined(ctx context.Context, from, head Seq, apply func(from Seq, recs [][]byte) error) error {
	ctx, cancel := context.WithCancel(ctx)
	var readers sync.WaitGroup
	defer readers.Wait()
	defer cancel()
	ranges := db.readAhead(ctx, &readers, from, head)
	at := from // the sequence number of the next record to batch
	var batch [][]byte
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := apply(at-Seq(len(batch)), batch)
		clear(batch)
		batch, size = batch[:0], 0
		return err
	}
	add := func(recs [][]byte) error {
		for _, rec := range recs {
			batch = append(batch, rec)
			size += len(rec)
			at++
			if len(batch) >= db.opts.catchUp.commitRecords || size >= commitBytes {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// upTo batches the records from at up to (not including) to, the
	// ones a range cut short left out, and then r's.
	upTo := func(to Seq, r rangeRead) error {
		for at < to {
			gap := db.readRange(ctx, at, int(to-at))
			if err := add(gap.recs); err != nil {
				return err
			}
			if gap.err != nil {
				return errors.Join(flush(), gap.err)
			}
		}
		if err := add(r.recs); err != nil {
			return err
		}
		if r.err != nil {
			return errors.Join(flush(), r.err)
		}
		return nil
	}
	for next := range ranges {
		r := <-next
		if err := upTo(r.from, r); err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(upTo(head+1, rangeRead{}), flush())
}

// recordsSize returns the bytes of recs.
func recordsSize(recs [][]byte) int {
	n := 0
	for _, r := range recs {
		n += len(r)
	}
	return n
}

// applyShared writes records read from the shared log, from sequence
// number from on, to the replica and the projections, the ones not
// applied yet, and publishes them. A record already applied must be the
// one the replica holds: when it is not, this node has diverged from the
// log (it applied a record the log did not keep) and it stops, loudly
// (ErrDiverged), rather than serve another history. It runs on the
// writer, with no group in flight.
func (db *DB) applyShared(from Seq, recs [][]byte) error {
	if err := db.diverged(); err != nil {
		return err
	}
	if err := db.space.admit(0); err != nil {
		return err
	}
	t := newTxBuffer(db.pdb)
	defer t.close()
	next := db.nextSeq
	for i, rec := range recs {
		ev := &eventv1.Event{}
		if err := proto.Unmarshal(rec, ev); err != nil {
			return fmt.Errorf("engine: shared log record %d: %w", from+Seq(i), err)
		}
		switch at := from + Seq(i); {
		case Seq(ev.Seq) != at:
			return db.diverge(fmt.Errorf("the log's record %d says it is event %d", at, ev.Seq))
		case at < next:
			// Applied already (this engine's own, or read twice): it
			// must be the same record.
			mine, err := getCopy(db.pdb, keys.LogKey(ev.Seq))
			if err != nil {
				return fmt.Errorf("engine: shared log: read event %d: %w", ev.Seq, err)
			}
			if !bytes.Equal(mine, rec) {
				return db.diverge(fmt.Errorf("event %d differs from the log's", ev.Seq))
			}
			continue
		case at > next:
			return fmt.Errorf("engine: shared log skips from %d to %d", next, at)
		}
		if err := t.Set(keys.LogKey(ev.Seq), rec, nil); err != nil {
			return err
		}
		if err := apply(t, ev); err != nil {
			return err
		}
		next++
	}
	if next == db.nextSeq {
		return nil
	}
	b, err := t.batch()
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("engine: commit: %w", noSpace(err))
	}
	db.nextSeq = next
	db.publish(next - 1)
	return nil
}

// ErrDiverged: this node's replica of the shared log holds an event the
// log does not (or not there): it applied a write the log did not keep.
// The node refuses writes (ErrUnavailable) and stops following the log;
// Open returns it for a replica whose last event is not the log's
// (checkReplicaAtOpen), and the node must be rebuilt from the log (serve
// moves the database aside and replays the log, --on-divergence). Nothing in a
// correct log and engine leads here: it guards against a store or a
// consensus that loses acknowledged records.
var ErrDiverged = errors.New("engine: this node diverged from the shared log")

// ReplicaAheadError is the divergence Open finds when the replica holds
// events past the log's head (it wraps into ErrDiverged): the log lost
// the replica's last acknowledged records, or it is not the log the
// replica was made from (a new or wiped stream, another cluster's). How
// far ahead tells the two apart, which cmd/almanac needs before it moves
// a database aside.
type ReplicaAheadError struct {
	Replica Seq // the replica's last event
	Log     Seq // the log's head
}

func (e *ReplicaAheadError) Error() string {
	return fmt.Sprintf("the replica holds events up to %d, the log only up to %d", e.Replica, e.Log)
}

// diverge records that the node diverged, logs it and returns the error.
func (db *DB) diverge(why error) error {
	err := fmt.Errorf("%w: %w", ErrDiverged, why)
	if db.shared.diverged.CompareAndSwap(nil, &err) {
		db.opts.Logger.Error("engine: this node's replica differs from the shared log: it refuses writes and stops following; "+
			"restart it to join again from the log (serve --on-divergence=rejoin, the default, moves the database aside)", "err", err)
	}
	return err
}

// diverged returns the ErrUnavailable of a node that diverged from the
// shared log, nil if it did not.
func (db *DB) diverged() error {
	if e := db.shared.diverged.Load(); e != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, *e)
	}
	return nil
}

// catchUpAtOpen applies the shared log up to its head before the writer
// starts: a node joining with an empty database replays the whole log, a
// restarted one what it missed, so that its first commands see the
// state of the log (a first-run admin is not made twice).
func (db *DB) catchUpAtOpen() error {
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	head, err := db.logHead(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("engine: shared log: %w", err)
	}
	if err := db.checkReplicaAtOpen(head); err != nil {
		return err
	}
	if head < db.nextSeq {
		return nil
	}
	catchUp := db.catchUp
	if head >= db.nextSeq+Seq(db.opts.catchUp.bulkMin) {
		catchUp = db.catchUpBulk
	}
	if err := catchUp(context.Background(), head); err != nil {
		return fmt.Errorf("engine: catching up with the shared log: %w", err)
	}
	return nil
}

// checkReplicaAtOpen compares the last record of the replica with the
// log's record of that number: a replica ahead of the log, or whose last
// record is not the log's, diverged (written to while the node was
// stopped, by a command run on its data directory alone; or the log
// lost or replaced records), and opening it returns ErrDiverged rather
// than serving another history. One read: a replica whose last record
// matches was a prefix of the log (each record is compared as it is
// applied, checkApplied).
func (db *DB) checkReplicaAtOpen(head Seq) error {
	last := db.nextSeq - 1
	if last == 0 {
		return nil
	}
	if head < last {
		return db.diverge(&ReplicaAheadError{Replica: last, Log: head})
	}
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	defer cancel()
	recs, err := db.opts.Log.Read(ctx, last, 1)
	if err != nil {
		return fmt.Errorf("engine: shared log: read event %d: %w", last, err)
	}
	mine, err := getCopy(db.pdb, keys.LogKey(uint64(last)))
	if err != nil {
		return fmt.Errorf("engine: shared log: read event %d: %w", last, err)
	}
	if len(recs) == 0 || !bytes.Equal(recs[0], mine) {
		return db.diverge(fmt.Errorf("event %d differs from the log's", last))
	}
	return nil
}

// follow applies what other engines append to the shared log, as it
// comes, and probes the log's head, until the database closes. It reads
// every record of the log from what it held at open on, this node's own
// appends too: those it compares with what it applied (checkApplied), so
// that a node whose acknowledged write the log did not keep finds out
// (ErrDiverged) instead of serving another history.
func (db *DB) follow() {
	defer close(db.followerDone)
	ctx, cancel := context.WithCancel(context.Background())
	var probing sync.WaitGroup
	defer probing.Wait()
	defer cancel()
	probing.Go(func() { db.probe(ctx) })
	go func() {
		select {
		case <-db.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := 10 * time.Millisecond
	checked := db.Head() // the records up to here are the log's (applied from it at open)
	// apply applies the records from from on that the node has not
	// applied yet, checking the others (checkApplied).
	apply := func(from Seq, recs [][]byte) error {
		n, err := db.checkApplied(from, recs)
		if err == nil && n < len(recs) {
			err = db.exclusive(ctx, func() error { return db.applyShared(from+Seq(n), recs[n:]) })
		}
		if err == nil {
			checked = from + Seq(len(recs)) - 1
		}
		return err
	}
	for {
		var err error
		if head := Seq(db.shared.head.Load()); head > checked+Seq(db.opts.catchUp.readFar) {
			// Far behind, more than a read of readFar as the head was
			// last looked at (cut off for a while, or slow): read ahead in
			// large reads, as a catch-up at open does, each range one
			// commit, the writer free between them.
			err = db.catchUpPipelined(ctx, checked+1, head, apply)
		} else {
			var recs [][]byte
			recs, err = db.opts.Log.Read(ctx, checked+1, readBatch)
			if err == nil {
				err = apply(checked+1, recs)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			backoff = 10 * time.Millisecond
			continue
		}
		if errors.Is(err, ErrClosed) || errors.Is(err, ErrDiverged) {
			return // a diverged node has logged why it stops
		}
		db.opts.Logger.Warn("engine: following the shared log", "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// checkApplied compares the log's records from from on with the ones this
// node has applied and published already, and returns how many it
// compared: those are done. It reads a view, not on the writer.
func (db *DB) checkApplied(from Seq, recs [][]byte) (int, error) {
	v, err := db.acquire()
	if err != nil {
		return 0, err
	}
	defer v.release()
	n := 0
	for ; n < len(recs) && from+Seq(n) <= v.head; n++ {
		at := from + Seq(n)
		mine, err := getCopy(v.snap, keys.LogKey(uint64(at)))
		if err != nil {
			return n, fmt.Errorf("engine: shared log: read event %d: %w", at, err)
		}
		if !bytes.Equal(mine, recs[n]) {
			return n, db.diverge(fmt.Errorf("event %d differs from the log's", at))
		}
	}
	return n, nil
}

// adoptIdentity makes the store id and secret the shared log's: the ones
// of this database when the log has none yet. A database that holds
// events of another log cannot join this one.
func (db *DB) adoptIdentity(head Seq) error {
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	defer cancel()
	mine := append([]byte(db.storeID+"\x00"), db.secret...)
	id, err := db.opts.Log.Identity(ctx, mine)
	if err != nil {
		return fmt.Errorf("engine: shared log identity: %w", err)
	}
	if err := db.pdb.Set(keys.MetaKey(metaShared), nil, pebble.Sync); err != nil {
		return fmt.Errorf("engine: mark the database a replica: %w", err)
	}
	if string(id) == string(mine) {
		return nil
	}
	storeID, secret, ok := cutIdentity(id)
	if !ok {
		return fmt.Errorf("engine: shared log identity: malformed (%d bytes)", len(id))
	}
	if head > 0 {
		return fmt.Errorf("engine: this database holds %d events of another log (store %s, the shared log's is %s)", head, db.storeID, storeID)
	}
	b := db.pdb.NewBatch()
	defer b.Close()
	if err := errors.Join(b.Set(keys.MetaKey(metaStoreID), []byte(storeID), nil),
		b.Set(keys.MetaKey(metaSecret), secret, nil), b.Commit(pebble.Sync)); err != nil {
		return fmt.Errorf("engine: adopt the shared log's identity: %w", err)
	}
	db.storeID, db.secret = storeID, secret
	db.etags, db.tokens = newSealer(db.Secret("etag")), newSealer(db.Secret("sync-token"))
	return nil
}

// metaShared marks a database that holds a replica of a shared log: one
// opened without the log (an offline command) refuses writes, which would
// give its sequence numbers to events the shared log does not have.
const metaShared = "shared-log"

// errReplica is the error of a write to a replica opened without its log.
var errReplica = fmt.Errorf("%w: this database is a node's replica of a cluster's log: write through a running node", ErrConflict)

// cutIdentity splits an identity into the store id and the secret.
func cutIdentity(id []byte) (storeID string, secret []byte, ok bool) {
	for i, c := range id {
		if c == 0 {
			return string(id[:i]), id[i+1:], len(id)-i-1 == 32
		}
	}
	return "", nil, false
}

// rewritesLog refuses the operations that rewrite log records (CompactLog,
// PurgeContent) on a shared log: they would rewrite this engine's replica
// only. The shared log is never rewritten yet.
func (db *DB) rewritesLog() error {
	if db.opts.Log != nil {
		return fmt.Errorf("%w: rewriting the log (compact, purge) is not supported on a shared log yet", ErrConflict)
	}
	return nil
}

// Digest returns the head of the current view and a SHA-256 of every log
// and projection record in it (not the meta records, which are each
// database's own): databases holding the same log and projections, byte
// for byte, have the same digest, whichever node of a cluster derived them.
func (db *DB) Digest(ctx context.Context) (Seq, []byte, error) {
	v, err := db.acquire()
	if err != nil {
		return 0, nil, err
	}
	defer v.release()
	it, err := v.snap.NewIter(&pebble.IterOptions{})
	if err != nil {
		return 0, nil, fmt.Errorf("engine: digest: %w", err)
	}
	defer it.Close()
	h := sha256.New()
	var n [8]byte
	for it.First(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		k := it.Key()
		if k[0] == keys.Meta {
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return 0, nil, fmt.Errorf("engine: digest: %w", err)
		}
		for _, b := range [][]byte{k, val} {
			binary.BigEndian.PutUint64(n[:], uint64(len(b)))
			h.Write(n[:])
			h.Write(b)
		}
	}
	if err := it.Error(); err != nil {
		return 0, nil, fmt.Errorf("engine: digest: %w", err)
	}
	return v.head, h.Sum(nil), nil
}

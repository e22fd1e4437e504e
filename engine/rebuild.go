package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"slices"
	"sync"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/almanac/almanac/engine/internal/replay"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// metaRebuilding is set while a rebuild runs; Open finishes an interrupted one.
const metaRebuilding = "rebuilding"

// metaProjections holds the projection layout version the projections
// were derived with; Open rebuilds them when it is not projectionVersion.
const metaProjections = "projections"

// projectionVersion names the current projection layout. Bump it whenever
// apply derives different records from the same log.
//
//	1 (unrecorded): bodies in 'b' records
//	2: bodies only in the log, object records point at them (body_seq)
//	3: the API token index ('k')
//	6: mounts arriving and leaving in the sharee's home change index
//	7: app passwords in the account records
//	8: push registrations ('P')
//	9: webhooks ('W')
//	10: the users' email address index ('M')
//	11: schedule tags of scheduling objects (Object.schedule_tag)
//	12: directory users ('U')
//	13: the time index of objects' envelopes ('T', timeindex.go)
//	14: iMIP events in the owner index of the user they are sent for
//	15: pending reschedule jobs of restores ('R', reschedule.go)
//	16: component and ETag in the time index's entries (timeindex.go)
const projectionVersion = "16"

// replayBatch is how many events one replay batch applies (a variable
// for tests). Measured with BenchmarkRebuild: 2,048 events (about 1 MiB
// of batch) took less CPU per event than 4,096, 16,384 or 65,536, likely
// because the batch is still in cache when the commit goroutine inserts
// it into the memtable; below 1,024 the per-commit costs grow.
var replayBatch = 2048

// Rebuild drops every projection and derives it again from the log. Writes
// wait while it runs. A crash during Rebuild is finished by the next Open.
func (db *DB) Rebuild(ctx context.Context) error {
	return db.exclusive(ctx, db.rebuild)
}

// runsDirName names the directory, inside the database's, where a
// rebuild writes the tables it ingests.
const runsDirName = "replay"

// projectionSpans returns the key spans that hold every projection
// family (and the unused prefixes between them) and no other: from the
// first family to the last, less the meta records. Open's rebuild excises
// them.
func projectionSpans() []pebble.KeyRange {
	fams := append(append([]byte(nil), keys.ProjectionPrefixes...), keys.RetiredPrefixes...)
	lo, hi := slices.Min(fams), slices.Max(fams)+1
	var spans []pebble.KeyRange
	for _, s := range [][2]byte{{lo, min(hi, keys.Meta)}, {max(lo, keys.Meta+1), hi}} {
		if s[0] < s[1] {
			spans = append(spans, pebble.KeyRange{Start: []byte{s[0]}, End: []byte{s[1]}})
		}
	}
	return spans
}

// rebuild runs on the writer goroutine (or in Open before it starts).
func (db *DB) rebuild() error {
	if err := db.space.admit(0); err != nil {
		return fmt.Errorf("engine: rebuild: %w", err)
	}
	if err := db.pdb.Set(keys.MetaKey(metaRebuilding), nil, pebble.Sync); err != nil {
		return fmt.Errorf("engine: rebuild: %w", err)
	}
	if err := db.dropProjections(); err != nil {
		return fmt.Errorf("engine: rebuild: drop projections: %w", err)
	}
	head := db.nextSeq - 1
	runs := replay.NewRuns(db.pdb, db.opts.FS, db.runsDir, db.tableOpts)
	runs.Close() // what an interrupted rebuild left
	if err := replayLog(db.pdb, db.pdb, head, runs, db.opts.ReplayMemory); err != nil {
		return fmt.Errorf("engine: rebuild: %w", err)
	}
	done := db.pdb.NewBatch()
	defer done.Close()
	if err := errors.Join(done.Set(keys.MetaKey(metaProjections), []byte(projectionVersion), nil),
		done.Delete(keys.MetaKey(metaRebuilding), nil)); err != nil {
		return fmt.Errorf("engine: rebuild: %w", err)
	}
	if err := done.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("engine: rebuild: %w", err)
	}
	db.publish(head)
	return nil
}

// dropProjections deletes every projection. In Open, before any reader,
// it excises them: Pebble drops their tables at once, and the replay's
// runs land in an empty keyspace, in the bottom level, where nothing
// compacts them again. A rebuild of an open database deletes them with
// range deletions instead, which leave the snapshots of readers whole
// (an excise empties those too): the old tables go in compactions later.
func (db *DB) dropProjections() error {
	db.mu.Lock()
	readers := db.view != nil
	db.mu.Unlock()
	if !readers {
		for _, s := range projectionSpans() {
			if err := db.pdb.Excise(context.Background(), s); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range append(append([]byte(nil), keys.ProjectionPrefixes...), keys.RetiredPrefixes...) {
		if err := db.pdb.DeleteRange([]byte{p}, []byte{p + 1}, pebble.NoSync); err != nil {
			return err
		}
	}
	return nil
}

// replayLog applies the events 1..head of src's log to dst's projections,
// which must be empty, through a replay.Loader (and runs when it is set)
// limited to about memory bytes (0: the loader's defaults).
// A reader goroutine reads and decodes the log a batch ahead of apply (see
// readLog).
func replayLog(src pebble.Reader, dst *pebble.DB, head Seq, runs *replay.Runs, memory int64) error {
	o := replay.New(dst, runs)
	o.Limit(int(memory))
	defer o.Close()
	full, free, stop := make(chan *logBatch, 1), make(chan *logBatch, 2), make(chan struct{})
	free <- &logBatch{}
	free <- &logBatch{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		readLog(src, head, full, free, stop)
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()
	for b := range full {
		if b.err != nil {
			return b.err
		}
		for _, ev := range b.evs[:b.n] {
			if err := apply(o, ev); err != nil {
				return err
			}
		}
		if err := o.Flush(false); err != nil {
			return err
		}
		free <- b
	}
	return o.Flush(true)
}

// logBatch is up to replayBatch decoded events of the log, or the error
// that ended reading it.
type logBatch struct {
	evs []*eventv1.Event
	n   int
	err error
}

// readLog reads the events 1..head of src's log into the batches it takes
// from free, and sends them to full, which it closes at the end or when
// stop is closed.
func readLog(src pebble.Reader, head Seq, full chan<- *logBatch, free <-chan *logBatch, stop <-chan struct{}) {
	defer close(full)
	send := func(b *logBatch) bool {
		select {
		case full <- b:
			return true
		case <-stop:
			return false
		}
	}
	fail := func(err error) { send(&logBatch{err: err}) }
	it, err := src.NewIter(&pebble.IterOptions{
		LowerBound: keys.LogKey(1),
		UpperBound: keys.LogKey(uint64(head) + 1),
	})
	if err != nil {
		fail(fmt.Errorf("log iterator: %w", err))
		return
	}
	defer it.Close()
	var (
		b                 *logBatch
		scratch, zeroBody []byte
	)
	for it.First(); it.Valid(); it.Next() {
		if b == nil {
			select {
			case b = <-free:
			case <-stop:
				return
			}
			b.n = 0
		}
		val, err := it.ValueAndErr()
		if err != nil {
			fail(fmt.Errorf("read log: %w", err))
			return
		}
		seq, err := keys.ParseLogKey(it.Key())
		if err != nil {
			fail(fmt.Errorf("read log: %w", err))
			return
		}
		if b.n == len(b.evs) {
			b.evs = append(b.evs, &eventv1.Event{})
		}
		ev := b.evs[b.n]
		var n int
		if n, scratch, err = decodeForApply(val, Seq(seq), ev, scratch); err != nil {
			fail(err)
			return
		}
		// Apply reads only the body's length: it gets as many zeros, never
		// written, shared by every event.
		if n > 0 {
			if n > len(zeroBody) {
				zeroBody = make([]byte, n)
			}
			ev.Body = zeroBody[:n]
		}
		if b.n++; b.n == replayBatch {
			if !send(b) {
				return
			}
			b = nil
		}
	}
	if err := it.Error(); err != nil {
		fail(fmt.Errorf("log iterator: %w", err))
		return
	}
	if b != nil && b.n > 0 {
		send(b)
	}
}

// decodeForApply decodes the log record val into ev for apply, which
// reads neither who made the change nor the body, only its length: those
// fields are cut out before decoding (each string would cost an
// allocation and a UTF-8 check, the body a copy), and the body's length
// is returned. scratch is reused for the record without them and returned.
func decodeForApply(val []byte, seq Seq, ev *eventv1.Event, scratch []byte) (bodyLen int, _ []byte, err error) {
	ev.Reset()
	scratch = scratch[:0]
	for off := 0; off < len(val); {
		num, typ, n := protowire.ConsumeTag(val[off:])
		if n < 0 {
			return 0, scratch, fmt.Errorf("decode event %d: %w", seq, protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, val[off+n:])
		if m < 0 {
			return 0, scratch, fmt.Errorf("decode event %d: %w", seq, protowire.ParseError(m))
		}
		switch {
		case num == eventBody && typ == protowire.BytesType:
			body, _ := protowire.ConsumeBytes(val[off+n:])
			bodyLen = len(body)
		case typ != protowire.BytesType || int(num) >= len(unapplied) || !unapplied[num]:
			scratch = append(scratch, val[off:off+n+m]...)
		}
		off += n + m
	}
	if err := proto.Unmarshal(scratch, ev); err != nil {
		return 0, scratch, fmt.Errorf("decode event %d: %w", seq, err)
	}
	return bodyLen, scratch, nil
}

// unapplied are the fields of an event that apply never reads, besides the
// body: who made the change, from which client, and why. Indexed by field
// number, for a lookup per field of every record replayed.
var unapplied = func() (set [64]bool) {
	fields := (&eventv1.Event{}).ProtoReflect().Descriptor().Fields()
	for _, name := range []protoreflect.Name{"actor", "user_agent", "request_id", "reason"} {
		set[fields.ByName(name).Number()] = true
	}
	return set
}()

// VerifyError reports the first difference Verify found between the live
// projections and a fresh replay of the log.
type VerifyError struct {
	Key     []byte
	Live    []byte // nil when the live projections lack the key
	Rebuilt []byte // nil when the replay lacks the key
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("engine: verify: projections differ from a replay of the log at %s, key %q (live %d bytes, rebuilt %d bytes); "+
		"`almanac rebuild` replaces the projections with the replay", describeKey(e.Key), e.Key, len(e.Live), len(e.Rebuilt))
}

// Verify checks the state at the moment it starts; writes continue
// meanwhile. It reads every log record and every projection record,
// reporting unreadable (damaged) ones as a *CorruptionError that says what
// is lost and what a rebuild recovers. When all is readable it replays the
// log into a scratch database and compares every projection record with
// the live ones, reporting the first difference as a *VerifyError.
func (db *DB) Verify(ctx context.Context) error {
	v, err := db.View()
	if err != nil {
		return err
	}
	defer v.Close()
	lost, err := scanLog(ctx, v.v.snap, v.v.head)
	if err != nil {
		return err
	}
	damaged, err := scanProjections(ctx, v.v.snap)
	if err != nil {
		return err
	}
	if len(lost) > 0 || len(damaged) > 0 {
		return &CorruptionError{LostLog: lost, Projections: damaged, Files: db.damagedFiles()}
	}
	scratch, done, err := db.openScratch()
	if err != nil {
		return err
	}
	defer done()
	if err := replayLog(v.v.snap, scratch.pdb, v.v.head, scratch.runs, db.opts.ReplayMemory); err != nil {
		return fmt.Errorf("engine: verify: %w", err)
	}
	if verifyReplayed != nil {
		verifyReplayed()
	}
	for _, p := range keys.ProjectionPrefixes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := compareRange(v.v.snap, scratch.pdb, []byte{p}, []byte{p + 1}); err != nil {
			return err
		}
	}
	return nil
}

// compareRange walks [lo, hi) of both readers in step.
func compareRange(live, rebuilt pebble.Reader, lo, hi []byte) error {
	a, err := live.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := rebuilt.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer b.Close()
	a.First()
	b.First()
	for a.Valid() || b.Valid() {
		switch {
		case !b.Valid() || (a.Valid() && bytes.Compare(a.Key(), b.Key()) < 0):
			return &VerifyError{Key: clone(a.Key()), Live: clone(a.Value())}
		case !a.Valid() || bytes.Compare(a.Key(), b.Key()) > 0:
			return &VerifyError{Key: clone(b.Key()), Rebuilt: clone(b.Value())}
		case !bytes.Equal(a.Value(), b.Value()):
			return &VerifyError{Key: clone(a.Key()), Live: clone(a.Value()), Rebuilt: clone(b.Value())}
		}
		a.Next()
		b.Next()
	}
	return errors.Join(a.Error(), b.Error())
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

package engine

import (
	"context"
	"fmt"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/almanac/almanac/engine/internal/replay"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	"github.com/cockroachdb/pebble/v2"
)

// bulkMin is how far behind the shared log a node opening must be to
// catch up in bulk (catchUpBulk) rather than one read at a time: below it
// the two fsyncs of the rebuild marker cost more than bulk saves.
const bulkMin = commitRecords

// catchUpBulk applies the shared log's records from db.nextSeq through
// head the way a rebuild replays the log: through a replay.Loader, which
// decodes each record once without its body and who made it, keeps the
// records apply reads in memory (when the projections start empty, as on
// a new node) and commits large batches in the background, with one fsync
// at the end. It is what a node opening far behind the log does (a new
// node, `almanac node join`, a node down a long while); about five times
// less CPU an event than applyShared (see BenchmarkCatchUp).
//
// The Loader's batches do not end at event boundaries, so a crash in the
// middle would leave projections that no prefix of the log derives: the
// rebuild marker (metaRebuilding) is set first and cleared last, and an
// Open that finds it rebuilds the projections from the log records the
// node holds (a prefix of the shared log's) and catches up from there.
// Any error leaves the marker too, and the database must be closed: it
// runs in Open, before readers and the writer.
func (db *DB) catchUpBulk(ctx context.Context, head Seq) error {
	if err := db.diverged(); err != nil {
		return err
	}
	if err := db.space.admit(0); err != nil {
		return err
	}
	if err := db.pdb.Set(keys.MetaKey(metaRebuilding), nil, pebble.Sync); err != nil {
		return fmt.Errorf("engine: mark the catch-up: %w", err)
	}
	var o *replay.Loader
	if db.nextSeq == 1 {
		// No log, so no projections: the writes can go to the bottom
		// level as sorted runs, as a rebuild's do.
		runs := replay.NewRuns(db.pdb, db.opts.FS, db.runsDir, db.tableOpts)
		runs.Close() // what an interrupted catch-up or rebuild left
		o = replay.New(db.pdb, runs)
		o.Limit(int(db.opts.ReplayMemory))
	} else {
		o = replay.NewOver(db.pdb)
	}
	defer o.Close()
	a := &bulkApply{db: db, o: o, next: db.nextSeq}
	if err := db.catchUpPipelined(ctx, db.nextSeq, head, a.apply); err != nil {
		return err
	}
	if err := o.Flush(true); err != nil {
		return err
	}
	if err := db.pdb.Delete(keys.MetaKey(metaRebuilding), pebble.Sync); err != nil {
		return fmt.Errorf("engine: catch-up done: %w", err)
	}
	db.nextSeq = a.next
	db.publish(a.next - 1)
	return nil
}

// bulkApply is catchUpBulk's apply of the records read: log records and
// what apply derives from them go through one replay.Loader, flushed
// every replayBatch events. A decoder goroutine decodes the records
// (decodeAhead) while the events before them are applied: apply's
// goroutine is the one part of a catch-up that does not run in parallel.
type bulkApply struct {
	db        *DB
	o         *replay.Loader
	next      Seq // the sequence number of the next record to apply
	zeroBody  []byte
	unflushed int
	// free holds the chunk buffers the decoder may fill: decodeBuffers
	// of them, so at most that many chunks of decoded events exist.
	free chan *decodedChunk
}

// decodeChunk is how many records the decoder hands over at once, and
// decodeBuffers how many such chunks exist: one being applied, one
// waiting, one being decoded.
const (
	decodeChunk   = 256
	decodeBuffers = 3
)

// decodedChunk holds the decoded events of consecutive records.
type decodedChunk struct {
	evs      [decodeChunk]eventv1.Event
	bodyLens [decodeChunk]int
	recs     [][]byte // the records decoded, n of them; the rest of the chunk's on err
	n        int
	err      error // why the record after the n decoded could not be
	scratch  []byte
}

// apply applies recs, the log's records from sequence number from on.
// Each must be the event its place names (else the node diverged, as in
// applyShared); reads start where the node is, so none is applied already.
func (a *bulkApply) apply(from Seq, recs [][]byte) error {
	if from != a.next {
		return fmt.Errorf("engine: shared log: read from %d, at %d", from, a.next)
	}
	if a.free == nil {
		a.free = make(chan *decodedChunk, decodeBuffers)
		for range decodeBuffers {
			a.free <- &decodedChunk{}
		}
	}
	stop := make(chan struct{})
	chunks := a.decodeAhead(from, recs, stop)
	defer func() {
		close(stop)
		for c := range chunks { // the decoder is done once chunks is closed
			a.free <- c
		}
	}()
	for c := range chunks {
		if err := a.applyChunk(c); err != nil {
			return err
		}
		a.free <- c
	}
	return nil
}

// applyChunk applies the events of a decoded chunk, then reports its
// decoding error, if any.
func (a *bulkApply) applyChunk(c *decodedChunk) error {
	for i, rec := range c.recs[:c.n] {
		ev := &c.evs[i]
		if Seq(ev.Seq) != a.next {
			return a.db.diverge(fmt.Errorf("the log's record %d says it is event %d", a.next, ev.Seq))
		}
		// apply reads only the body's length, as in a rebuild (readLog).
		if n := c.bodyLens[i]; n > 0 {
			if n > len(a.zeroBody) {
				a.zeroBody = make([]byte, n)
			}
			ev.Body = a.zeroBody[:n]
		}
		// The log's records are the caller's: Read hands them over.
		if err := a.o.SetOwned(keys.LogKey(uint64(a.next)), rec); err != nil {
			return err
		}
		if err := apply(a.o, ev); err != nil {
			return fmt.Errorf("engine: shared log record %d: %w", a.next, err)
		}
		a.next++
		if a.unflushed++; a.unflushed == replayBatch {
			a.unflushed = 0
			if err := a.o.Flush(false); err != nil {
				return fmt.Errorf("engine: catch-up: %w", noSpace(err))
			}
		}
	}
	if c.err != nil {
		return fmt.Errorf("engine: shared log record %d: %w", a.next, c.err)
	}
	return nil
}

// decodeAhead decodes recs, the records from sequence number from on, in
// chunks taken from a.free, and sends them in order on the channel it
// returns, which it closes when done, after a record that does not
// decode, or once stop is closed.
func (a *bulkApply) decodeAhead(from Seq, recs [][]byte, stop <-chan struct{}) <-chan *decodedChunk {
	out := make(chan *decodedChunk)
	go func() {
		defer close(out)
		for off := 0; off < len(recs); off += decodeChunk {
			var c *decodedChunk
			select {
			case c = <-a.free:
			case <-stop:
				return
			}
			c.recs, c.n, c.err = recs[off:min(off+decodeChunk, len(recs))], 0, nil
			for i, rec := range c.recs {
				n, scratch, err := decodeForApply(rec, from+Seq(off+i), &c.evs[i], c.scratch)
				c.scratch = scratch
				if err != nil {
					c.err = err
					break
				}
				c.bodyLens[i] = n
				c.n++
			}
			select {
			case out <- c:
			case <-stop:
				a.free <- c
				return
			}
			if c.err != nil {
				return
			}
		}
	}()
	return out
}

package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
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
const projectionVersion = "3"

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

// rebuild runs on the writer goroutine (or in Open before it starts).
func (db *DB) rebuild() error {
	if err := db.pdb.Set(keys.MetaKey(metaRebuilding), nil, pebble.Sync); err != nil {
		return fmt.Errorf("engine: rebuild: %w", err)
	}
	for _, p := range append(append([]byte(nil), keys.ProjectionPrefixes...), keys.RetiredPrefixes...) {
		if err := db.pdb.DeleteRange([]byte{p}, []byte{p + 1}, pebble.NoSync); err != nil {
			return fmt.Errorf("engine: rebuild: drop projections: %w", err)
		}
	}
	head := db.nextSeq - 1
	if err := replay(db.pdb, db.pdb, head); err != nil {
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

// replay applies the events 1..head of src's log to dst's projections.
func replay(src pebble.Reader, dst *pebble.DB, head Seq) error {
	it, err := src.NewIter(&pebble.IterOptions{
		LowerBound: keys.LogKey(1),
		UpperBound: keys.LogKey(uint64(head) + 1),
	})
	if err != nil {
		return fmt.Errorf("log iterator: %w", err)
	}
	defer it.Close()
	o := newReplayOverlay(dst)
	defer o.close()
	n := 0
	ev := &eventv1.Event{}
	var scratch []byte
	for it.First(); it.Valid(); it.Next() {
		val, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		seq, err := keys.ParseLogKey(it.Key())
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		if scratch, err = decodeForApply(val, Seq(seq), ev, scratch); err != nil {
			return err
		}
		if err := apply(o, ev); err != nil {
			return err
		}
		if n++; n%replayBatch == 0 {
			if err := o.flush(pebble.NoSync); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("log iterator: %w", err)
	}
	return o.flush(pebble.Sync)
}

// decodeForApply decodes the log record val into ev for apply, which
// needs only the body's length: the body is cut out before decoding, so
// that it is not copied, and ev.Body then points into val. scratch is
// reused for the record without its body and returned.
func decodeForApply(val []byte, seq Seq, ev *eventv1.Event, scratch []byte) ([]byte, error) {
	ev.Reset()
	body, start, end, err := findBody(val, seq)
	if err != nil {
		return scratch, err
	}
	rest := val
	if body != nil {
		scratch = append(append(scratch[:0], val[:start]...), val[end:]...)
		rest = scratch
	}
	if err := proto.Unmarshal(rest, ev); err != nil {
		return scratch, fmt.Errorf("decode event %d: %w", seq, err)
	}
	ev.Body = body
	return scratch, nil
}

// VerifyError reports the first difference Verify found between the live
// projections and a fresh replay of the log.
type VerifyError struct {
	Key     []byte
	Live    []byte // nil when the live projections lack the key
	Rebuilt []byte // nil when the replay lacks the key
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("engine: verify: projections differ at key %q (live %d bytes, rebuilt %d bytes)", e.Key, len(e.Live), len(e.Rebuilt))
}

// Verify replays the log into a scratch database and compares every
// projection record with the live ones, reporting the first difference
// as a *VerifyError. Writes continue meanwhile; Verify checks the state
// at the moment it starts.
func (db *DB) Verify(ctx context.Context) error {
	v, err := db.View()
	if err != nil {
		return err
	}
	defer v.Close()
	fs := vfs.NewMem()
	scratch, err := pebble.Open("verify", &pebble.Options{FS: fs, FormatMajorVersion: pebble.FormatNewest, Logger: pebbleLogger{db.opts.Logger}})
	if err != nil {
		return fmt.Errorf("engine: verify: scratch store: %w", err)
	}
	defer scratch.Close()
	if err := replay(v.v.snap, scratch, v.v.head); err != nil {
		return fmt.Errorf("engine: verify: %w", err)
	}
	for _, p := range keys.ProjectionPrefixes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := compareRange(v.v.snap, scratch, []byte{p}, []byte{p + 1}); err != nil {
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

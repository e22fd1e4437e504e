package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// A command is one client request as the writer sees it. run checks the
// command's preconditions against tx, which includes the effects of the
// commands before it in the same group, and then appends its events. A
// command that returns an error must not have appended anything: all checks
// come first.
type command interface {
	run(tx *txn) error
}

type request struct {
	cmd  command
	excl func() error // run alone on the writer, between groups (Rebuild)
	done chan error
}

// submit hands cmd to the writer and waits until it is durable or rejected.
func (db *DB) submit(ctx context.Context, cmd command) error {
	return db.send(ctx, &request{cmd: cmd, done: make(chan error, 1)})
}

// exclusive runs fn on the writer while no command runs.
func (db *DB) exclusive(ctx context.Context, fn func() error) error {
	return db.send(ctx, &request{excl: fn, done: make(chan error, 1)})
}

func (db *DB) send(ctx context.Context, r *request) error {
	select {
	case db.cmds <- r:
	case <-db.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once submitted the command runs; wait for its outcome even if ctx ends.
	select {
	case err := <-r.done:
		return err
	case <-db.writerDone:
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// writeLoop is the single writer: it drains waiting commands into one batch
// and commits it with one fsync (group commit).
func (db *DB) writeLoop() {
	defer close(db.writerDone)
	group := make([]*request, 0, db.opts.MaxBatch)
	for {
		select {
		case r := <-db.cmds:
			group = append(group[:0], r)
		case <-db.closing:
			db.failPending()
			return
		}
	drain:
		for len(group) < db.opts.MaxBatch {
			select {
			case r := <-db.cmds:
				group = append(group, r)
			default:
				break drain
			}
		}
		db.process(group)
	}
}

// process commits runs of ordinary commands as groups and runs exclusive
// requests alone, in arrival order.
func (db *DB) process(group []*request) {
	start := 0
	for i, r := range group {
		if r.excl == nil {
			continue
		}
		if i > start {
			db.commitGroup(group[start:i])
		}
		r.done <- r.excl()
		start = i + 1
	}
	if start < len(group) {
		db.commitGroup(group[start:])
	}
}

// failPending answers every command still queued at close.
func (db *DB) failPending() {
	for {
		select {
		case r := <-db.cmds:
			r.done <- ErrClosed
		default:
			return
		}
	}
}

// errPoisoned marks a command that failed after appending events.
var errPoisoned = errors.New("engine: command failed after writing")

// commitGroup runs the group's commands in one batch and commits it.
func (db *DB) commitGroup(group []*request) {
	b := db.pdb.NewIndexedBatch()
	defer b.Close()
	tx := &txn{db: db, rw: b, next: db.nextSeq, now: db.opts.Clock().UTC()}
	errs := make([]error, len(group))
	for i, r := range group {
		mark := tx.next
		errs[i] = r.cmd.run(tx)
		if errs[i] != nil && tx.next != mark {
			// A command broke its contract; its partial writes are in the
			// batch. Drop the batch and run the others again without it.
			db.opts.Logger.Error("engine: command failed after writing", "err", errs[i])
			r.done <- fmt.Errorf("%w: %w", errPoisoned, errs[i])
			rest := append(append([]*request(nil), group[:i]...), group[i+1:]...)
			if len(rest) > 0 {
				db.commitGroup(rest)
			}
			return
		}
	}
	if tx.next != db.nextSeq {
		if err := b.Commit(pebble.Sync); err != nil {
			err = fmt.Errorf("engine: commit: %w", err)
			db.opts.Logger.Error("engine: commit failed", "err", err)
			for i := range errs {
				if errs[i] == nil {
					errs[i] = err
				}
			}
		} else {
			db.nextSeq = tx.next
			db.publish(tx.next - 1)
		}
	}
	for i, r := range group {
		r.done <- errs[i]
	}
}

// txn is the writer's view of one group: reads see the durable state plus
// the group's earlier writes.
type txn struct {
	db   *DB
	rw   readWriter
	next Seq
	now  time.Time
}

// readWriter is what projections are read from and written to: an indexed
// Pebble batch for the writer and for Rebuild.
type readWriter interface {
	Get(key []byte) ([]byte, io.Closer, error)
	Set(key, value []byte, opts *pebble.WriteOptions) error
	Delete(key []byte, opts *pebble.WriteOptions) error
	DeleteRange(start, end []byte, opts *pebble.WriteOptions) error
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// etag is the strong ETag of the object version written by event seq.
func (db *DB) etag(seq Seq) string {
	return `"` + strconv.FormatUint(uint64(seq), 36) + "-" + db.storeID[:8] + `"`
}

// append assigns ev the next sequence number (and its new ETag, for
// writes of objects), stores it in the log and applies it to the
// projections.
func (tx *txn) append(m Meta, ev *eventv1.Event) error {
	ev.Seq = uint64(tx.next)
	ev.TimeUnixNano = tx.now.UnixNano()
	ev.Actor, ev.UserAgent, ev.RequestId = m.Actor, m.UserAgent, m.RequestID
	if m.Reason != "" {
		ev.Reason = m.Reason
	}
	if ev.Op == eventv1.Op_OP_OBJECT_PUT || ev.Op == eventv1.Op_OP_OBJECT_MOVED {
		ev.Etag = tx.db.etag(tx.next)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		return fmt.Errorf("engine: encode event: %w", err)
	}
	if err := tx.rw.Set(keys.LogKey(ev.Seq), data, nil); err != nil {
		return fmt.Errorf("engine: write event: %w", err)
	}
	tx.next++
	return apply(tx.rw, ev)
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	if db.replica {
		return errReplica
	}
	return db.send(ctx, &request{cmd: cmd, done: make(chan error, 1)})
}

// exclusive runs fn on the writer while no command runs.
func (db *DB) exclusive(ctx context.Context, fn func() error) error {
	return db.send(ctx, &request{excl: fn, done: make(chan error, 1)})
}

// Ping returns nil once the writer has run a no-op after every write
// submitted before it is durable: the writer and its fsyncs are alive. It
// returns ErrClosed once Close has begun. Once the no-op is queued, Ping
// waits for it even if ctx ends (a stuck writer blocks it): callers that
// need a bound wait in another goroutine.
func (db *DB) Ping(ctx context.Context) error {
	return db.exclusive(ctx, func() error { return nil })
}

func (db *DB) send(ctx context.Context, r *request) error {
	if err := db.enqueue(ctx, r); err != nil {
		return err
	}
	return db.await(r)
}

// enqueue hands r to the writer without waiting for its outcome: requests
// enqueued by one goroutine run in the order enqueued.
func (db *DB) enqueue(ctx context.Context, r *request) error {
	select {
	case db.cmds <- r:
		return nil
	case <-db.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// await waits for the outcome of an enqueued request. Once submitted the
// command runs: it waits even if the request's context ends.
func (db *DB) await(r *request) error {
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
// and commits it with one fsync (group commit). It does not wait for the
// fsync: the acknowledger does, so the next group is built while the
// previous one syncs (see pending).
func (db *DB) writeLoop() {
	defer close(db.writerDone)
	acks := make(chan pending, pipelineDepth)
	ackerDone := make(chan struct{})
	go db.ackLoop(acks, ackerDone)
	defer func() {
		close(acks)
		<-ackerDone
	}()
	for {
		var group []*request // fresh each time: the acknowledger reads the last one
		select {
		case r := <-db.cmds:
			group = append(group, r)
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
		db.process(group, acks)
	}
}

// pipelineDepth is how many committed groups may wait for their fsync
// while the writer builds the next one.
const pipelineDepth = 2

// pending is a group whose batch is applied (visible inside Pebble) but
// maybe not yet durable. snap was taken right after the apply, before any
// later batch, so it shows exactly the state up to head; the acknowledger
// publishes it to readers only once the batch's fsync has completed.
type pending struct {
	b       *pebble.Batch // nil for a group that wrote nothing
	snap    *pebble.Snapshot
	head    Seq
	group   []*request
	errs    []error
	barrier chan struct{} // closed by the acknowledger when reached
	applied time.Time     // when the batch was handed to Pebble, for Stats
	events  int           // how many events the batch appends, for Stats
}

// ackLoop waits for each group's fsync in commit order, publishes its view
// and answers its commands.
func (db *DB) ackLoop(acks <-chan pending, done chan<- struct{}) {
	defer close(done)
	for p := range acks {
		if p.barrier != nil {
			close(p.barrier)
			continue
		}
		if p.b != nil {
			err := p.b.SyncWait()
			p.b.Close()
			if err != nil {
				err = fmt.Errorf("engine: sync: %w", noSpace(err))
				db.opts.Logger.Error("engine: sync failed", "err", err)
				p.snap.Close()
				for i := range p.errs {
					if p.errs[i] == nil {
						p.errs[i] = err
					}
				}
			} else {
				db.stats.commitSeconds.observe(time.Since(p.applied).Seconds())
				db.stats.commitEvents.observe(float64(p.events))
				db.publishSnapshot(p.snap, p.head)
			}
		}
		for i, r := range p.group {
			r.done <- p.errs[i]
		}
	}
}

// process commits runs of ordinary commands as groups and runs exclusive
// requests alone, in arrival order, once every earlier group is durable.
func (db *DB) process(group []*request, acks chan<- pending) {
	start := 0
	for i, r := range group {
		if r.excl == nil {
			continue
		}
		if i > start {
			db.commitGroup(group[start:i], acks)
		}
		barrier := make(chan struct{})
		acks <- pending{barrier: barrier}
		<-barrier
		r.done <- r.excl()
		start = i + 1
	}
	if start < len(group) {
		db.commitGroup(group[start:], acks)
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

// commitGroup runs the group's commands in one batch, applies it and hands
// it to the acknowledger.
func (db *DB) commitGroup(group []*request, acks chan<- pending) {
	o := newTxBuffer(db.pdb)
	tx := &txn{db: db, rw: o, next: db.nextSeq, now: db.opts.Clock().UTC()}
	errs := make([]error, len(group))
	for i, r := range group {
		mark := tx.next
		errs[i] = r.cmd.run(tx)
		if errs[i] != nil && tx.next != mark {
			// A command broke its contract; its partial writes are in the
			// buffer. Drop them and run the others again without it.
			o.close()
			db.opts.Logger.Error("engine: command failed after writing", "err", errs[i])
			r.done <- fmt.Errorf("%w: %w", errPoisoned, errs[i])
			rest := append(append([]*request(nil), group[:i]...), group[i+1:]...)
			if len(rest) > 0 {
				db.commitGroup(rest, acks)
			}
			return
		}
	}
	p := pending{group: group, errs: errs}
	if tx.next == db.nextSeq {
		o.close()
		if db.opts.Log != nil && db.staleRefusal(errs, acks) {
			db.commitGroup(group, acks) // checked against what others appended
			return
		}
		acks <- p
		return
	}
	if db.opts.Log != nil {
		retry, err := db.appendShared(tx, acks)
		if err != nil || retry {
			o.close()
		}
		if retry {
			db.commitGroup(group, acks)
			return
		}
		if err != nil {
			db.opts.Logger.Error("engine: append to the shared log failed", "err", err)
			for i := range errs {
				if errs[i] == nil {
					errs[i] = err
				}
			}
			acks <- p
			return
		}
	}
	b, err := o.batch()
	if err == nil {
		// Refused before Pebble sees it when the disk is (nearly) full:
		// Pebble does not survive a failed log write (space.go).
		if err = db.space.admit(int64(len(b.Repr()))); err == nil {
			p.applied = time.Now()
			err = noSpace(db.pdb.ApplyNoSyncWait(b, pebble.Sync))
		}
		if err != nil {
			b.Close()
		}
	}
	if err != nil {
		err = fmt.Errorf("engine: commit: %w", err)
		if !errors.Is(err, ErrNoSpace) { // logged once, when it starts
			db.opts.Logger.Error("engine: commit failed", "err", err)
		}
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		acks <- p
		return
	}
	p.events = int(tx.next - db.nextSeq)
	db.nextSeq = tx.next
	p.b, p.snap, p.head = b, db.pdb.NewSnapshot(), tx.next-1
	acks <- p
}

// txn is the writer's view of one group: reads see the durable state plus
// the group's earlier writes.
type txn struct {
	db   *DB
	rw   readWriter
	next Seq
	now  time.Time
	// records are the group's encoded events, for a shared log.
	records [][]byte
}

// etag is the strong ETag of the object version written by event seq: the
// seq encrypted with the store's key, so it is unique (in this store, and
// with overwhelming odds across stores) but shows no client how many
// writes the server took. Events keep the ETags they were written with
// (older ones show the seq in base 36).
func (db *DB) etag(seq Seq) string {
	return `"` + db.etags.seal(uint64(seq), 0) + `"`
}

// append assigns ev the next sequence number (and its new ETag, for
// writes of objects), stores it in the log and applies it to the
// projections.
func (tx *txn) append(m Meta, ev *eventv1.Event) error {
	ev.Seq = uint64(tx.next)
	ev.TimeUnixNano = tx.now.UnixNano()
	// Strings of the log are UTF-8; a header may carry other bytes.
	ev.Actor = strings.ToValidUTF8(m.Actor, "\uFFFD")
	ev.UserAgent = strings.ToValidUTF8(m.UserAgent, "\uFFFD")
	ev.RequestId = strings.ToValidUTF8(m.RequestID, "\uFFFD")
	if m.Reason != "" {
		ev.Reason = strings.ToValidUTF8(m.Reason, "\uFFFD")
	}
	if ev.Op == eventv1.Op_OP_OBJECT_PUT || ev.Op == eventv1.Op_OP_OBJECT_MOVED {
		ev.Etag = tx.db.etag(tx.next)
	}
	if p := dontNotify(m, ev.Op); p != nil {
		ev.Push = p
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		return fmt.Errorf("engine: encode event: %w", err)
	}
	if err := tx.rw.Set(keys.LogKey(ev.Seq), data, nil); err != nil {
		return fmt.Errorf("engine: write event: %w", err)
	}
	if tx.db.opts.Log != nil {
		tx.records = append(tx.records, data)
	}
	tx.next++
	return apply(tx.rw, ev)
}

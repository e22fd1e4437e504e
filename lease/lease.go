// Package lease elects one holder among the nodes of a cluster with a
// lease in a JetStream key-value bucket: the nodes of an Almanac cluster
// use it so that the senders that must run once (the NATS change
// publisher, Web Push, webhooks) run on exactly one node at a time.
//
// The lease is one key of a bucket whose entries expire TTL after their
// last write (the bucket's max age). A node takes it by creating the key
// when it is absent (compare-and-set on "no such key"), keeps it by
// updating the key with the revision it last wrote (every TTL/3), and
// gives it back by deleting that revision. A node that dies stops
// renewing: the server removes the key TTL after the last renewal was
// stored, and another node creates it.
//
// A holder stops believing it holds the lease TTL − TTL/10 after it sent
// its last successful renewal, which is before the server can have
// stored it plus TTL: two nodes never both believe they hold it, as long
// as their clocks run at about the same rate (a tenth of the TTL of
// slack). The work a holder runs is cancelled at that moment and must end
// soon after; what it did in flight may still land after another node
// took over, so the work must be safe to repeat (it resumes from a cursor
// and the receivers drop duplicates).
//
// The package knows only NATS; it does not import the engine.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrLost is the cause (context.Cause) of the end of a work's context
// when the lease was lost rather than given back.
var ErrLost = errors.New("lease: lost")

// Options configure a Lease.
type Options struct {
	// Bucket is the key-value bucket of the leases. Default
	// "almanac_leases".
	Bucket string
	// Key names the lease. Required.
	Key string
	// Holder names this node; it is the key's value. Required.
	Holder string
	// TTL is how long a lease outlives its holder's last renewal. Default
	// 10s; at least 1s. Every user of a bucket must use the same TTL (the
	// first one to create the bucket sets it).
	TTL time.Duration
	// Replicas of the bucket: 3 in a cluster of three. Default 1.
	Replicas int
	// Logger receives takeovers and losses. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Lease is one named lease as seen by one node. Run campaigns for it.
type Lease struct {
	opts Options
	kv   jetstream.KeyValue

	mu     sync.Mutex
	held   bool
	holder string // last holder seen ("" when none)
}

// Open creates the bucket when it is missing (or binds to it) and returns
// the lease; it takes nothing yet.
func Open(ctx context.Context, nc *nats.Conn, opts Options) (*Lease, error) {
	if opts.Key == "" || opts.Holder == "" {
		return nil, errors.New("lease: Options need Key and Holder")
	}
	if opts.Bucket == "" {
		opts.Bucket = "almanac_leases"
	}
	if opts.TTL == 0 {
		opts.TTL = 10 * time.Second
	}
	if opts.TTL < time.Second {
		return nil, fmt.Errorf("lease: TTL %s is under 1s", opts.TTL)
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	kv, err := js.KeyValue(ctx, opts.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: opts.Bucket, TTL: opts.TTL, History: 1, Replicas: opts.Replicas, Storage: jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, opts.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lease: bucket %s: %w", opts.Bucket, err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("lease: bucket %s: %w", opts.Bucket, err)
	}
	if st.TTL() != opts.TTL {
		return nil, fmt.Errorf("lease: bucket %s expires keys after %s, not the TTL %s asked for (every node must use the same)", opts.Bucket, st.TTL(), opts.TTL)
	}
	return &Lease{opts: opts, kv: kv}, nil
}

// Held reports whether this node holds the lease now.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

// Holder returns the holder this node last saw ("" when none, or not
// known yet): itself while it holds the lease, else the key's value at
// its last attempt to take it.
func (l *Lease) Holder() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder
}

func (l *Lease) set(held bool, holder string) {
	l.mu.Lock()
	l.held, l.holder = held, holder
	l.mu.Unlock()
}

// Run campaigns for the lease until ctx ends: each time this node takes
// it, Run calls work with a context that ends when the lease is lost
// (its cause is then ErrLost) or ctx ends, waits for work to return, and
// gives the lease back unless it was lost. Held is false from the moment
// the lease is lost or work's context ends. A node that does not hold the lease tries to take it every
// TTL/5. Run returns ctx's error.
func (l *Lease) Run(ctx context.Context, work func(ctx context.Context)) error {
	poll := l.opts.TTL / 5
	for {
		rev, sent, err := l.take(ctx)
		switch {
		case err == nil:
			l.hold(ctx, rev, sent, work)
		case !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil:
			l.opts.Logger.Warn("lease: cannot reach the bucket", "lease", l.opts.Key, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// take creates the key; when it exists it records its holder.
func (l *Lease) take(ctx context.Context) (rev uint64, sent time.Time, err error) {
	rctx, cancel := context.WithTimeout(ctx, l.opts.TTL/3)
	defer cancel()
	sent = l.opts.Now()
	rev, err = l.kv.Create(rctx, l.opts.Key, []byte(l.opts.Holder))
	if errors.Is(err, jetstream.ErrKeyExists) {
		holder := ""
		if e, gerr := l.kv.Get(rctx, l.opts.Key); gerr == nil {
			holder = string(e.Value())
		}
		l.set(false, holder)
	}
	return rev, sent, err
}

// hold runs work while it renews the lease taken at revision rev.
func (l *Lease) hold(ctx context.Context, rev uint64, sent time.Time, work func(context.Context)) {
	l.set(true, l.opts.Holder)
	l.opts.Logger.Info("lease: taken", "lease", l.opts.Key, "holder", l.opts.Holder)
	wctx, lose := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		work(wctx)
	}()
	rev, lost := l.renew(wctx, rev, sent, done)
	l.set(false, "")
	if lost != nil {
		l.opts.Logger.Warn("lease: lost", "lease", l.opts.Key, "err", lost)
		lose(fmt.Errorf("%w: %w", ErrLost, lost))
		<-done
		return
	}
	lose(nil)
	<-done
	// Given back: another node need not wait for the TTL.
	dctx, cancel := context.WithTimeout(context.Background(), l.opts.TTL/3)
	defer cancel()
	if err := l.kv.Delete(dctx, l.opts.Key, jetstream.LastRevision(rev)); err != nil {
		l.opts.Logger.Warn("lease: give back (it expires by itself)", "lease", l.opts.Key, "err", err)
	}
}

// renew updates the key every TTL/3 until work ends (done), ctx ends (a
// nil error) or the lease is lost (the reason); it returns the revision it
// last wrote. A renewal that fails for a reason other than a lost race (no
// quorum, a timeout) is retried every TTL/20 until the lease's safe time,
// counted from the last stored renewal, runs out.
func (l *Lease) renew(ctx context.Context, rev uint64, stored time.Time, done <-chan struct{}) (uint64, error) {
	safe := l.opts.TTL - l.opts.TTL/10
	next := stored.Add(l.opts.TTL / 3)
	for {
		deadline := stored.Add(safe)
		at := next
		if deadline.Before(at) {
			at = deadline
		}
		t := time.NewTimer(max(at.Sub(l.opts.Now()), 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return rev, nil
		case <-done:
			t.Stop()
			return rev, nil
		case <-t.C:
		}
		now := l.opts.Now()
		if !now.Before(deadline) {
			return rev, fmt.Errorf("no renewal stored within %s", safe)
		}
		rctx, cancel := context.WithTimeout(ctx, deadline.Sub(now))
		r, err := l.kv.Update(rctx, l.opts.Key, []byte(l.opts.Holder), rev)
		cancel()
		switch {
		case err == nil:
			rev, stored, next = r, now, now.Add(l.opts.TTL/3)
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound):
			return rev, fmt.Errorf("another node took it: %w", err)
		case ctx.Err() != nil:
			return rev, nil
		default:
			l.opts.Logger.Warn("lease: renewal failed; retrying", "lease", l.opts.Key, "err", err)
			next = now.Add(l.opts.TTL / 20)
		}
	}
}

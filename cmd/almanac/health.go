package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/almanac/almanac/engine"
)

// readyTimeout bounds how long /readyz waits for the writer to answer.
const readyTimeout = 5 * time.Second

// natsStallBound is how long the NATS publisher's cursor may stand still
// behind the log's head before /readyz reports it stalled.
const natsStallBound = 2 * time.Minute

func init() {
	registerServeHook(ServeHook{Name: "health", Start: func(ctx context.Context, env *ServeEnv) (func(context.Context) error, error) {
		r := &readiness{ping: env.DB.Ping, timeout: readyTimeout, stallBound: natsStallBound, now: time.Now,
			publisher: func() (publisherState, bool) {
				// The feed hook (started before this one) records its
				// runtime; it has no publisher under --nats=off.
				rt := runtimeFor(env.DB)
				if rt == nil || rt.publisher == nil {
					return publisherState{}, false
				}
				return publisherState{cursor: uint64(rt.publisher.Cursor()), head: uint64(env.DB.Head()), err: rt.publisher.Err()}, true
			}}
		env.Mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			writeHealth(w, http.StatusOK, "ok"+clusterHealth(env.DB))
		})
		env.Mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, req *http.Request) {
			if err := r.check(req.Context()); err != nil {
				writeHealth(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
				return
			}
			writeHealth(w, http.StatusOK, "ok")
		})
		return nil, nil
	}})
}

// writeHealth writes a one-line plain-text answer that no cache keeps.
func writeHealth(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// publisherState is what /readyz reads of the NATS publisher.
type publisherState struct {
	cursor, head uint64 // the last seq JetStream acknowledged; the log's head
	err          error  // the last failure, nil once publishing works
}

// readiness answers /readyz: the database is open and its writer commits
// (engine.DB.Ping), and the NATS publisher, if any, has not stood still
// behind the head for longer than stallBound. Concurrent probes share one
// ping in flight, so that unauthenticated probes cannot queue more than one
// no-op on the writer.
type readiness struct {
	ping       func(context.Context) error
	timeout    time.Duration
	publisher  func() (publisherState, bool) // false: no publisher
	stallBound time.Duration
	now        func() time.Time

	// Guarded by mu: the publisher's cursor at the last probe and since
	// when it has stood there behind the head (zero: caught up).
	cursor  uint64
	stalled time.Time

	mu       sync.Mutex
	inflight chan struct{} // closed when the ping in flight ends; nil when none
	last     error         // the outcome of the last ping that ended
}

// check returns nil when the writer answered a ping within the timeout and
// the publisher is not stalled.
func (r *readiness) check(ctx context.Context) error {
	if err := r.checkWriter(ctx); err != nil {
		return err
	}
	return r.checkPublisher()
}

// checkPublisher reports a publisher whose cursor has stood still behind
// the head for longer than stallBound, as seen by the probes.
func (r *readiness) checkPublisher() error {
	if r.publisher == nil {
		return nil
	}
	p, ok := r.publisher()
	if !ok {
		return nil
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case p.cursor >= p.head: // caught up
		r.cursor, r.stalled = p.cursor, time.Time{}
		return nil
	case p.cursor != r.cursor || r.stalled.IsZero(): // behind, moving or newly behind
		r.cursor, r.stalled = p.cursor, now
		return nil
	}
	if d := now.Sub(r.stalled); d > r.stallBound {
		err := fmt.Errorf("nats: publishing stalled for %s at seq %d, %d events behind", d.Round(time.Second), p.cursor, p.head-p.cursor)
		if p.err != nil {
			err = fmt.Errorf("%w: %v", err, p.err)
		}
		return err
	}
	return nil
}

// checkWriter returns nil when the writer answered a ping within the
// timeout.
func (r *readiness) checkWriter(ctx context.Context) error {
	r.mu.Lock()
	done := r.inflight
	if done == nil {
		done = make(chan struct{})
		r.inflight = done
		// Not ctx: the ping, once queued, runs to its end whoever waits.
		go func() {
			err := r.ping(context.Background())
			r.mu.Lock()
			r.last, r.inflight = err, nil
			r.mu.Unlock()
			close(done)
		}()
	}
	r.mu.Unlock()
	t := time.NewTimer(r.timeout)
	defer t.Stop()
	select {
	case <-done:
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.last != nil {
			return fmt.Errorf("database: %w", r.last)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("database: the writer did not answer within %s", r.timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// clusterHealth is what /healthz adds on a cluster node: how far behind
// the cluster's log it is, or that it cannot reach the log (no quorum:
// writes are refused, reads serve what the node has). "" on a single node.
func clusterHealth(db *engine.DB) string {
	if !db.Shared() {
		return ""
	}
	s, err := db.Stats()
	if err != nil {
		return "\ncluster: " + err.Error()
	}
	if s.LogError != "" {
		return fmt.Sprintf("\ncluster: the log is unreachable, writes are refused (503), reads serve the %d events applied: %s", s.Head, s.LogError)
	}
	return fmt.Sprintf("\ncluster: applied %d of the log's %d events (%d behind)", s.Head, max(s.Head, s.LogHead), s.LogHead-min(s.Head, s.LogHead))
}

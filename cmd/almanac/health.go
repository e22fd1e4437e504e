package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// readyTimeout bounds how long /readyz waits for the writer to answer.
const readyTimeout = 5 * time.Second

func init() {
	registerServeHook(ServeHook{Name: "health", Start: func(ctx context.Context, env *ServeEnv) (func(context.Context) error, error) {
		r := &readiness{ping: env.DB.Ping, timeout: readyTimeout}
		env.Mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			writeHealth(w, http.StatusOK, "ok")
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

// readiness answers /readyz: the database is open and its writer commits
// (engine.DB.Ping). Concurrent probes share one ping in flight, so that
// unauthenticated probes cannot queue more than one no-op on the writer.
type readiness struct {
	ping    func(context.Context) error
	timeout time.Duration

	mu       sync.Mutex
	inflight chan struct{} // closed when the ping in flight ends; nil when none
	last     error         // the outcome of the last ping that ended
}

// check returns nil when the writer answered a ping within the timeout.
func (r *readiness) check(ctx context.Context) error {
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

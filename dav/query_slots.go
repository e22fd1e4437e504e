package dav

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/dav/query"
)

// Expensive REPORTs (calendar-query and free-busy-query: every object
// parsed, recurrences expanded) take a slot of a semaphore sized from
// GOMAXPROCS, so that a burst of them cannot take every core and the
// memory of their answers at once. A request waits for a slot, with its
// context, up to Limits.QueueWait; then it gets 503 with a Retry-After of
// that wait (in whole seconds, at least 1) instead of queueing without end. Cheap REPORTs (multiget,
// sync-collection) take none.

// Defaults of the query.Limits fields this package uses.
const (
	defaultQueueWait = 5 * time.Second
	defaultMaxBuffer = 16 << 20
)

// newQuerySlots returns the semaphore of l.MaxConcurrent slots; nil for
// no limit.
func newQuerySlots(l query.Limits) chan struct{} {
	n := l.MaxConcurrent
	switch {
	case n < 0:
		return nil
	case n == 0:
		n = 2 * runtime.GOMAXPROCS(0)
	}
	return make(chan struct{}, n)
}

// acquireQuery takes a query slot for r, waiting up to the queue wait.
// release gives it back and may be called more than once.
//
// Errors: 503 (with Retry-After) when no slot frees in time; the
// request's context error when the client goes away while waiting.
func (h *Handler) acquireQuery(w http.ResponseWriter, r *http.Request) (release func(), err error) {
	if h.querySlots == nil {
		return func() {}, nil
	}
	select {
	case h.querySlots <- struct{}{}:
	default:
		wait := h.limits.QueueWait
		if wait <= 0 {
			wait = defaultQueueWait
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case h.querySlots <- struct{}{}:
		case <-t.C:
			retry := auth.RetrySeconds(wait)
			w.Header().Set("Retry-After", strconv.Itoa(retry))
			return nil, httpErrorf(http.StatusServiceUnavailable, "too many queries at once; retry in %d seconds", retry)
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	var once sync.Once
	return func() { once.Do(func() { <-h.querySlots }) }, nil
}

// maxQueryBuffer is the byte budget of one calendar-query's held matches.
func (h *Handler) maxQueryBuffer() int64 {
	if h.limits.MaxBuffer > 0 {
		return h.limits.MaxBuffer
	}
	return defaultMaxBuffer
}

// newObjectCache returns the cache of parsed objects that calendar-query
// and the free-busy lookups read through (l.ObjectCache bytes; nil for
// none).
func newObjectCache(l query.Limits) *query.ObjectCache {
	if l.ObjectCache == 0 {
		l.ObjectCache = query.DefaultObjectCache
	}
	return query.NewObjectCache(l.ObjectCache)
}

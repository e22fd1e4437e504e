package query

import (
	"context"
	"sync"
	"time"

	"github.com/almanac/almanac/engine/recur"
)

// maxPrepared bounds the recur.Prepared one parsed object keeps: one per
// component type and expansion limits for objects without floating
// times, one per floating location too for the others (a collection's
// calendar-timezone is parsed anew for each request, so those rarely
// meet again; the bound keeps them from piling up).
const maxPrepared = 8

// prepCache keeps the recur.Prepared of one parsed calendar object. The
// ObjectCache shares it between the copies it hands out, so a recurring
// series is read once, not at every query (see recur.Prepared).
type prepCache struct {
	mu sync.Mutex
	m  map[prepKey]*recur.Prepared
}

type prepKey struct {
	comp       string
	iterations int
	floating   *time.Location // nil: the Prepared has no floating time
}

// expand is recur.Expand of obj's components named comp, read once per
// object (and floating location, when the object has floating times).
func (obj *CalendarObject) expand(ctx context.Context, comp string, start, end time.Time, opts recur.Options) ([]recur.Instance, error) {
	if obj.prep == nil {
		return recur.Expand(ctx, obj.cal, comp, start, end, opts)
	}
	p, err := obj.prepared(ctx, comp, opts)
	if err != nil {
		return nil, err
	}
	return p.Expand(ctx, start, end, opts)
}

// prepared returns the recur.Prepared of obj's components named comp
// with opts' floating location and iterations, from obj's prepCache
// (kept there when made).
func (obj *CalendarObject) prepared(ctx context.Context, comp string, opts recur.Options) (*recur.Prepared, error) {
	floating := opts.Floating
	if floating == nil {
		floating = time.UTC
	}
	iterations := opts.MaxIterations
	if iterations <= 0 {
		iterations = recur.DefaultMaxIterations
	}
	c := obj.prep
	if c == nil {
		return recur.Prepare(ctx, obj.cal, comp, floating, opts)
	}
	c.mu.Lock()
	p := c.m[prepKey{comp, iterations, nil}]
	if p == nil {
		p = c.m[prepKey{comp, iterations, floating}]
	}
	c.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := recur.Prepare(ctx, obj.cal, comp, floating, opts)
	if err != nil {
		return nil, err
	}
	k := prepKey{comp, iterations, nil}
	if p.Floating {
		k.floating = floating
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[prepKey]*recur.Prepared{}
	}
	if len(c.m) < maxPrepared {
		c.m[k] = p
	}
	c.mu.Unlock()
	return p, nil
}

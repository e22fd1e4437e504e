package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Content types of the objects the bench writes.
const (
	CalendarType = "text/calendar; charset=utf-8"
	VCardType    = "text/vcard; charset=utf-8"
)

// RunPut creates cfg.N new events in a fresh calendar with cfg.C clients,
// each PUT with If-None-Match: *. It reports throughput, latency and errors.
func RunPut(ctx context.Context, c *Client, cfg Config) (Result, error) {
	cfg.EnsureDefaults()
	coll := fmt.Sprintf("%sbench-put-%d-%d/", c.T.CalendarHome, cfg.C, time.Now().UnixNano())
	if err := c.MkCalendar(ctx, coll); err != nil {
		return Result{}, fmt.Errorf("put: create calendar: %w", err)
	}
	res := putMany(ctx, c, cfg, func(i int) (string, []byte) {
		ev := Event(i, 0)
		return coll + ev.Name, ev.Body
	}, CalendarType)
	res.Scenario = "put"
	return res, nil
}

// RunVCardPut creates cfg.N new contacts in the target's address book with
// cfg.C clients, numbered from cfg.Offset.
func RunVCardPut(ctx context.Context, c *Client, cfg Config) (Result, error) {
	cfg.EnsureDefaults()
	res := putMany(ctx, c, cfg, func(i int) (string, []byte) {
		ct := Contact(cfg.Offset+i, 0)
		return c.T.AddressBook + ct.Name, ct.Body
	}, VCardType)
	res.Scenario = "vcard-put"
	return res, nil
}

// putMany PUTs objects 0..cfg.N-1 (as made by obj) with cfg.C workers until
// done or out of budget.
func putMany(ctx context.Context, c *Client, cfg Config, obj func(i int) (string, []byte), ctype string) Result {
	var (
		lat      Latencies
		next     atomic.Int64
		errs     atomic.Int64
		firstErr sync.Once
		first    string
		wg       sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(cfg.Budget)
	for w := 0; w < cfg.C; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.N || time.Now().After(deadline) || ctx.Err() != nil {
					return
				}
				path, body := obj(i)
				x, err := c.Put(ctx, path, ctype, body, true)
				if err != nil {
					errs.Add(1)
					firstErr.Do(func() { first = err.Error() })
					continue
				}
				lat.Add(x.Took)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	s := lat.Summary()
	r := Result{
		Server: c.T.Name, N: cfg.N, C: cfg.C, Summary: s,
		Ops: s.Count, Errors: int(errs.Load()), ElapsedS: el.Seconds(),
		Throughput: float64(s.Count) / el.Seconds(), FirstError: first,
	}
	r.Partial = s.Count+r.Errors < cfg.N
	return r
}

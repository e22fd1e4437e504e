package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// RunMixed runs cfg.C devices against the dataset for cfg.Duration. Each
// device loops: sync-collection from its token, a PUT that modifies one of
// its own events every fifth loop, and a calendar-multiget of whatever the
// sync reported changed. It reports device loops per second (all devices
// together) and the latency of one loop.
func RunMixed(ctx context.Context, c *Client, ds Dataset, cfg Config) (Result, error) {
	cfg.EnsureDefaults()
	res := Result{Server: c.T.Name, Scenario: "mixed", N: ds.N, C: cfg.C}
	first, err := c.syncOnce(ctx, ds.Coll, "")
	if err != nil {
		return res, fmt.Errorf("mixed: initial sync: %w", err)
	}
	var (
		lat      Latencies
		errs     atomic.Int64
		puts     atomic.Int64
		firstErr sync.Once
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errs.Add(1)
		firstErr.Do(func() { res.FirstError = err.Error() })
	}
	start := time.Now()
	stop := start.Add(min(cfg.Duration, cfg.Budget))
	for d := 0; d < cfg.C; d++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token, mine := first.token, d
			for loop := 0; time.Now().Before(stop) && ctx.Err() == nil; loop++ {
				t0 := time.Now()
				rep, err := c.syncOnce(ctx, ds.Coll, token)
				if err != nil {
					fail(err)
					continue
				}
				token = rep.token
				if loop%5 == 4 {
					if _, err := c.modify(ctx, ds.Coll, mine%ds.N); err != nil {
						fail(err)
					}
					puts.Add(1)
					mine += cfg.C
				}
				if len(rep.changed) > 0 {
					if _, err := c.Multiget(ctx, ds.Coll, rep.changed[:min(len(rep.changed), cfg.Batch)], false); err != nil {
						fail(err)
					}
				}
				lat.Add(time.Since(t0))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	res.Summary = lat.Summary()
	res.Ops, res.Errors, res.ElapsedS = res.Count, int(errs.Load()), el.Seconds()
	res.Throughput = float64(res.Count) / el.Seconds()
	res.Note = fmt.Sprintf("%d PUTs; throughput is device sync loops/s", puts.Load())
	return res, nil
}

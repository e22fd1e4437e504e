package bench

import (
	"context"
	"fmt"
	"time"
)

// Dataset is a calendar collection filled with events 0..N-1.
type Dataset struct {
	Coll string // collection path, ending in a slash
	N    int
}

// RunPropfind lists the dataset with Depth 1 PROPFIND cfg.Rounds times and
// reports latency, response size and the member count.
func RunPropfind(ctx context.Context, c *Client, ds Dataset, cfg Config) (Result, error) {
	cfg.EnsureDefaults()
	var lat Latencies
	res := Result{Server: c.T.Name, Scenario: "propfind", N: ds.N, C: 1}
	start := time.Now()
	for r := 0; r < cfg.Rounds; r++ {
		x, err := c.Propfind(ctx, ds.Coll)
		if err != nil {
			return res, fmt.Errorf("propfind: %w", err)
		}
		lat.Add(x.Took)
		ms, err := ParseMultistatus(x.Body)
		if err != nil {
			return res, fmt.Errorf("propfind: %w", err)
		}
		res.Bytes = int64(len(x.Body))
		res.check(len(Members(ds.Coll, ms)), ds.N)
		if time.Since(start) > cfg.Budget {
			break
		}
	}
	res.Summary = lat.Summary()
	res.Ops = res.Count
	res.ElapsedS = time.Since(start).Seconds()
	return res, nil
}

// RunMultiget lists the dataset, then fetches every object with
// calendar-multiget in batches of cfg.Batch, one batch after another, as a
// client's first sync does. Throughput is objects per second of time spent
// waiting for the servers' answers (the sum of the batches' request-to-last-
// byte times): the generator's own XML decoding between batches runs on the
// same cores and is the same for every server, so it is left out, as it is
// for every other scenario's latency. Latency is per batch; Bytes is the
// total received.
func RunMultiget(ctx context.Context, c *Client, ds Dataset, cfg Config) (Result, error) {
	cfg.EnsureDefaults()
	res := Result{Server: c.T.Name, Scenario: "multiget", N: ds.N, C: 1}
	x, err := c.Propfind(ctx, ds.Coll)
	if err != nil {
		return res, fmt.Errorf("multiget: list: %w", err)
	}
	ms, err := ParseMultistatus(x.Body)
	if err != nil {
		return res, fmt.Errorf("multiget: list: %w", err)
	}
	hrefs := Members(ds.Coll, ms)
	var lat Latencies
	got := 0
	var waited time.Duration
	start := time.Now()
	for i := 0; i < len(hrefs); i += cfg.Batch {
		if time.Since(start) > cfg.Budget {
			res.Partial = true
			break
		}
		batch := hrefs[i:min(i+cfg.Batch, len(hrefs))]
		x, err := c.Multiget(ctx, ds.Coll, batch, false)
		if err != nil {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = err.Error()
			}
			continue
		}
		lat.Add(x.Took)
		waited += x.Took
		res.Bytes += int64(len(x.Body))
		ms, err := ParseMultistatus(x.Body)
		if err != nil {
			return res, fmt.Errorf("multiget: %w", err)
		}
		for _, r := range ms.Responses {
			if r.Data() != "" {
				got++
			}
		}
	}
	el := time.Since(start)
	res.Summary = lat.Summary()
	res.Ops = got
	res.ElapsedS = el.Seconds()
	if waited > 0 {
		res.Throughput = float64(got) / waited.Seconds()
	}
	if !res.Partial {
		res.check(got, ds.N)
	} else {
		res.Note = fmt.Sprintf("fetched %d of %d before the %s budget", got, ds.N, cfg.Budget)
	}
	return res, nil
}

package bench

import (
	"context"
	"fmt"
	"time"
)

// FreshPrefix marks the scenarios of FreshFootprint.
const FreshPrefix = "fresh-"

// FreshBudget is FreshFootprint's default time budget for the load and the
// first sync. Almanac does both at 10,000 events in a few seconds and
// Radicale in about a minute; Xandikos's first sync of 10,000 events ran
// 17 minutes without finishing (session 12) before it was stopped by hand.
const FreshBudget = 5 * time.Minute

// FreshFootprint measures a server as someone moving a calendar in meets
// it: n events loaded by loader into an otherwise empty server, then one
// client's first sync (sync-collection without a token, then
// calendar-multiget of every member in batches of 100, as DAVx5 does),
// then Footprint. Its scenarios are Footprint's with FreshPrefix, so they
// sit beside the rows measured after all of the compare's scenarios, which
// are not like for like across servers: each server's put runs store what
// they manage within their budget (Almanac some 20,000 objects before its
// "N=1,000" rows, Radicale about 5,000). Here every server holds exactly
// the same n objects and has answered the same requests.
//
// The load and the first sync together get budget (FreshBudget when it is
// 0 or less), as the compare's scenarios get theirs: a server that has not
// finished by then gets one failed fresh-rss Result saying "timed out
// after N s" and where (Timeout set), and is not measured, since it is
// still busy. The error is for failures other than the budget's.
func FreshFootprint(ctx context.Context, c *Client, loader Loader, n int, budget time.Duration) ([]Result, error) {
	if budget <= 0 {
		budget = FreshBudget
	}
	start := time.Now()
	work, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	step, err := freshSync(work, c, loader, n)
	if err != nil {
		if work.Err() != nil && ctx.Err() == nil {
			return []Result{{Server: c.T.Name, Scenario: FreshPrefix + "rss", N: n, Errors: 1, Timeout: true,
				ElapsedS:   time.Since(start).Seconds(),
				FirstError: fmt.Sprintf("timed out after %.0f s (budget %s) in %s", time.Since(start).Seconds(), budget, step)}}, nil
		}
		return nil, fmt.Errorf("fresh footprint at %d: %s: %w", n, step, err)
	}
	rs := Footprint(ctx, c, n, RawSize(n))
	for i := range rs {
		rs[i].Scenario = FreshPrefix + rs[i].Scenario
	}
	return rs, nil
}

// freshSync loads n events and makes one client's first sync of them. On
// an error it says which step failed (and how far the multigets got).
func freshSync(ctx context.Context, c *Client, loader Loader, n int) (string, error) {
	ds, err := loader.Load(ctx, c, n)
	if err != nil {
		return "the load", err
	}
	if ctx.Err() != nil { // a loader that writes files may not look at ctx
		return "the load", ctx.Err()
	}
	x, err := c.SyncCollection(ctx, ds.Coll, "")
	if err != nil {
		return "the first sync's sync-collection", err
	}
	ms, err := ParseMultistatus(x.Body)
	if err != nil {
		return "the first sync's sync-collection", err
	}
	hrefs := Members(ds.Coll, ms)
	if len(hrefs) != n {
		return "the first sync's sync-collection", fmt.Errorf("listed %d members", len(hrefs))
	}
	for done := 0; done < n; {
		k := min(100, n-done)
		if _, err := c.Multiget(ctx, ds.Coll, hrefs[done:done+k], false); err != nil {
			return fmt.Sprintf("the first sync's multigets (%d of %d fetched)", done, n), err
		}
		done += k
	}
	return "", nil
}

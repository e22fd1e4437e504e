package bench

import (
	"context"
	"fmt"
)

// FreshPrefix marks the scenarios of FreshFootprint.
const FreshPrefix = "fresh-"

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
func FreshFootprint(ctx context.Context, c *Client, loader Loader, n int) ([]Result, error) {
	ds, err := loader.Load(ctx, c, n)
	if err != nil {
		return nil, fmt.Errorf("fresh footprint at %d: %w", n, err)
	}
	x, err := c.SyncCollection(ctx, ds.Coll, "")
	if err != nil {
		return nil, fmt.Errorf("fresh footprint at %d: first sync: %w", n, err)
	}
	ms, err := ParseMultistatus(x.Body)
	if err != nil {
		return nil, fmt.Errorf("fresh footprint at %d: first sync: %w", n, err)
	}
	hrefs := Members(ds.Coll, ms)
	if len(hrefs) != n {
		return nil, fmt.Errorf("fresh footprint at %d: first sync listed %d members", n, len(hrefs))
	}
	for len(hrefs) > 0 {
		k := min(100, len(hrefs))
		if _, err := c.Multiget(ctx, ds.Coll, hrefs[:k], false); err != nil {
			return nil, fmt.Errorf("fresh footprint at %d: multiget: %w", n, err)
		}
		hrefs = hrefs[k:]
	}
	rs := Footprint(ctx, c, n, RawSize(n))
	for i := range rs {
		rs[i].Scenario = FreshPrefix + rs[i].Scenario
	}
	return rs, nil
}

package bench

import (
	"context"
	"fmt"
	"time"
)

// syncReply is a parsed sync-collection answer.
type syncReply struct {
	token   string
	changed []string // hrefs of new or modified members
	deleted int
	took    time.Duration
	bytes   int
}

func (c *Client) syncOnce(ctx context.Context, coll, token string) (syncReply, error) {
	x, err := c.SyncCollection(ctx, coll, token)
	if err != nil {
		return syncReply{}, err
	}
	ms, err := ParseMultistatus(x.Body)
	if err != nil {
		return syncReply{}, fmt.Errorf("sync-collection: %w", err)
	}
	rep := syncReply{token: ms.SyncToken, took: x.Took, bytes: len(x.Body)}
	for _, r := range ms.Responses {
		if HrefPath(r.Href) == HrefPath(coll) {
			continue
		}
		if r.Gone() {
			rep.deleted++
			continue
		}
		rep.changed = append(rep.changed, r.Href)
	}
	if rep.token == "" {
		return rep, fmt.Errorf("sync-collection %s: no sync-token in the response", coll)
	}
	return rep, nil
}

// RunSync measures RFC 6578 sync-collection on the dataset: an untimed
// initial sync first (a peer may build a cache on the first one, which a
// server loaded by PUT would have built already), then cfg.Rounds timed
// initial syncs and cfg.Rounds rounds of (change cfg.Changes events,
// incremental sync, sync with no change), each within cfg.Budget. Each
// result counts what the server reported against what was expected: a full
// sync every name, the incremental sync exactly the changed names, the
// no-change sync none.
func RunSync(ctx context.Context, c *Client, ds Dataset, cfg Config) ([]Result, error) {
	cfg.EnsureDefaults()
	base := Result{Server: c.T.Name, N: ds.N, C: 1}
	init := base
	init.Scenario = "sync-initial"
	rep, err := c.syncOnce(ctx, ds.Coll, "")
	if err != nil {
		return nil, fmt.Errorf("sync: warm-up: %w", err)
	}
	var initLat Latencies
	gotInit, start := 0, time.Now()
	for r := 0; r < cfg.Rounds && (r == 0 || time.Since(start) < cfg.Budget); r++ {
		if rep, err = c.syncOnce(ctx, ds.Coll, ""); err != nil {
			return nil, fmt.Errorf("sync: initial: %w", err)
		}
		initLat.Add(rep.took)
		init.Bytes = int64(rep.bytes)
		gotInit += len(rep.changed)
	}
	init.Summary = initLat.Summary()
	init.Ops, init.ElapsedS = init.Count, time.Since(start).Seconds()
	init.check(gotInit, init.Count*ds.N)

	inc, none := base, base
	inc.Scenario, none.Scenario = "sync-incremental", "sync-nochange"
	var incLat, noneLat Latencies
	gotInc, gotNone := 0, 0
	token := rep.token
	start = time.Now()
	rounds := 0
	for r := 0; r < cfg.Rounds && time.Since(start) < cfg.Budget; r++ {
		for k := 0; k < cfg.Changes; k++ {
			i := (r*cfg.Changes + k) * max(1, ds.N/(cfg.Rounds*cfg.Changes)) % ds.N
			if _, err := c.modify(ctx, ds.Coll, i); err != nil {
				return nil, fmt.Errorf("sync: change event %d: %w", i, err)
			}
		}
		rep, err := c.syncOnce(ctx, ds.Coll, token)
		if err != nil {
			return nil, fmt.Errorf("sync: incremental: %w", err)
		}
		incLat.Add(rep.took)
		inc.Bytes = int64(rep.bytes)
		gotInc += len(rep.changed) + rep.deleted
		token = rep.token
		rep, err = c.syncOnce(ctx, ds.Coll, token)
		if err != nil {
			return nil, fmt.Errorf("sync: no change: %w", err)
		}
		noneLat.Add(rep.took)
		none.Bytes = int64(rep.bytes)
		gotNone += len(rep.changed) + rep.deleted
		token = rep.token
		rounds++
	}
	inc.Summary, none.Summary = incLat.Summary(), noneLat.Summary()
	inc.Ops, none.Ops = inc.Count, none.Count
	inc.ElapsedS = time.Since(start).Seconds()
	none.ElapsedS = inc.ElapsedS
	inc.check(gotInc, rounds*min(cfg.Changes, ds.N))
	none.check(gotNone, 0)
	return []Result{init, inc, none}, nil
}

package bench

import (
	"context"
	"fmt"
	"time"
)

// Plan says which scenarios run against one target, at which sizes, and
// within which budgets. Peers get smaller budgets than Almanac.
type Plan struct {
	PutN       int           // events (and contacts) per put run
	PutC       []int         // client counts for put and vcard-put
	PutBudget  time.Duration // per put run
	Sizes      []int         // dataset sizes for propfind, multiget, query, sync, mixed
	SyncOnly   []int         // extra sizes for sync and RSS only (e.g. 100k)
	ReadBudget time.Duration // per read scenario
	MixedC     int
	MixedTime  time.Duration
	Rounds     int
}

// Run executes plan against target, loading datasets with loader, and
// hands every Result to emit as soon as it is known. A scenario that fails
// outright is reported as a Result with Errors set, and the run goes on.
func Run(ctx context.Context, c *Client, loader Loader, plan Plan, emit func(Result)) {
	fail := func(scenario string, n int, err error) {
		emit(Result{Server: c.T.Name, Scenario: scenario, N: n, Errors: 1, FirstError: err.Error()})
	}
	for k, conc := range plan.PutC {
		cfg := Config{N: plan.PutN, C: conc, Budget: plan.PutBudget, Offset: (k + 1) * 1_000_000}
		if r, err := RunPut(ctx, c, cfg); err != nil {
			fail("put", cfg.N, err)
		} else {
			emit(r)
		}
		if r, err := RunVCardPut(ctx, c, cfg); err != nil {
			fail("vcard-put", cfg.N, err)
		} else {
			emit(r)
		}
	}
	for _, n := range plan.Sizes {
		runSize(ctx, c, loader, plan, n, true, emit, fail)
	}
	for _, n := range plan.SyncOnly {
		runSize(ctx, c, loader, plan, n, false, emit, fail)
	}
}

func runSize(ctx context.Context, c *Client, loader Loader, plan Plan, n int, all bool,
	emit func(Result), fail func(string, int, error)) {
	t0 := time.Now()
	ds, err := loader.Load(ctx, c, n)
	if err != nil {
		fail("load", n, err)
		return
	}
	load := Result{Server: c.T.Name, Scenario: "load", N: n, Ops: n, ElapsedS: time.Since(t0).Seconds()}
	load.Note = fmt.Sprintf("%T", loader)
	emit(load)
	cfg := Config{N: n, C: 1, Budget: plan.ReadBudget, Rounds: plan.Rounds}
	if all {
		if r, err := RunPropfind(ctx, c, ds, cfg); err != nil {
			fail("propfind", n, err)
		} else {
			emit(r)
		}
		if rs, err := RunQuery(ctx, c, ds, cfg); err != nil {
			fail("query", n, err)
		} else {
			emitAll(rs, emit)
		}
		if r, err := RunMultiget(ctx, c, ds, cfg); err != nil {
			fail("multiget", n, err)
		} else {
			emit(r)
		}
	}
	if rs, err := RunSync(ctx, c, ds, cfg); err != nil {
		fail("sync", n, err)
	} else {
		emitAll(rs, emit)
	}
	if all {
		mcfg := cfg
		mcfg.C, mcfg.Duration = plan.MixedC, plan.MixedTime
		if r, err := RunMixed(ctx, c, ds, mcfg); err != nil {
			fail("mixed", n, err)
		} else {
			emit(r)
		}
	}
	emitAll(Footprint(ctx, c, n, RawSize(n)), emit)
}

func emitAll(rs []Result, emit func(Result)) {
	for _, r := range rs {
		emit(r)
	}
}

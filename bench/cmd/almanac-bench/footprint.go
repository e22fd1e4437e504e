package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/almanac/almanac/bench"
)

// footprintCmd measures Almanac's memory and disk after loading N events
// over HTTP: for each N a fresh server with the default serve flags (the
// feed on: embedded NATS in process, gRPC on --listen) and a fresh data
// directory, N PUTs by 16 clients into one calendar, a settle pause, then
// VmRSS, VmHWM, the /metrics breakdown and the data directory by part.
func footprintCmd(args []string) error {
	fs := flag.NewFlagSet("footprint", flag.ExitOnError)
	bin := fs.String("almanac", "", "path of the almanac binary (required)")
	flags := fs.String("almanac-flags", "", "extra flags for `almanac serve`, space separated")
	sizes := fs.String("n", "1000,10000", "comma-separated event counts, each on a fresh server")
	clients := fs.Int("c", 16, "concurrent loading clients")
	settle := fs.Duration("settle", bench.FootprintSettle, "pause between the load and the measurement (flushes, compactions, the collector)")
	fresh := fs.Bool("first-sync", false, "measure as bench-compare's fresh rows do: the load by 32 clients, then one client's first sync (bench.FreshFootprint), so the figures compare with RESULTS.md's fresh-rss rows")
	_ = fs.Parse(args)
	if *bin == "" {
		return fmt.Errorf("footprint: --almanac is required")
	}
	ns, err := parseSizes(*sizes, 1)
	if err != nil {
		return fmt.Errorf("footprint: --n: %w", err)
	}
	ctx := context.Background()
	bench.FootprintSettle = *settle
	for _, n := range ns {
		run := footprintOne
		if *fresh {
			run = footprintFresh
		}
		if err := run(ctx, *bin, strings.Fields(*flags), n, *clients); err != nil {
			return err
		}
	}
	return nil
}

func footprintOne(ctx context.Context, bin string, flags []string, n, c int) error {
	s, err := bench.StartAlmanac(ctx, bin, flags...)
	if err != nil {
		return fmt.Errorf("footprint: %w", err)
	}
	defer s.Stop()
	cl := bench.NewClient(s.Target, c)
	t0 := time.Now()
	if _, err := (bench.HTTPLoader{C: c}).Load(ctx, cl, n); err != nil {
		return fmt.Errorf("footprint: %w", err)
	}
	load := bench.Result{Server: s.Name, Scenario: "load", N: n, C: c, Ops: n, ElapsedS: time.Since(t0).Seconds()}
	load.Throughput = float64(n) / load.ElapsedS
	emit(load)
	for _, r := range bench.Footprint(ctx, cl, n, bench.RawSize(n)) {
		emit(r)
	}
	return nil
}

// footprintFresh measures like bench-compare's fresh rows: n events
// loaded by 32 clients (c is not used), one client's first sync, then
// bench.Footprint.
func footprintFresh(ctx context.Context, bin string, flags []string, n, _ int) error {
	s, err := bench.StartAlmanac(ctx, bin, flags...)
	if err != nil {
		return fmt.Errorf("footprint: %w", err)
	}
	defer s.Stop()
	rs, err := bench.FreshFootprint(ctx, bench.NewClient(s.Target, 64), bench.HTTPLoader{C: 32}, n, 0)
	if err != nil {
		return fmt.Errorf("footprint: %w", err)
	}
	for _, r := range rs {
		emit(r)
	}
	return nil
}

// emit prints r as a JSON line on stdout and its summary on stderr.
func emit(r bench.Result) {
	fmt.Fprintln(os.Stderr, r.String())
	_ = r.WriteJSON(os.Stdout)
}

// parseSizes reads a comma-separated list of sizes, each at least least.
func parseSizes(list string, least int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < least {
			return nil, fmt.Errorf("bad size %q (at least %d)", f, least)
		}
		out = append(out, n)
	}
	return out, nil
}

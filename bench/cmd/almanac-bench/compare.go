package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/almanac/almanac/bench"
)

// Plans used by `compare` unless flags change them. Every server gets the
// same rounds and budgets: a peer slower than the budget allows is cut
// short, and the report marks it (~) with the samples it took. Twenty
// rounds, so that a p50 is one of twenty samples.
var (
	almanacPlan = bench.Plan{
		PutN: 5000, PutC: []int{1, 32}, PutBudget: time.Minute,
		Sizes: []int{1000, 10000}, SyncOnly: []int{100000}, ReadBudget: 2 * time.Minute,
		MixedC: 8, MixedTime: 20 * time.Second, Rounds: 20,
	}
	peerPlan = bench.Plan{
		PutN: 5000, PutC: []int{1, 32}, PutBudget: time.Minute,
		Sizes: []int{1000, 10000}, ReadBudget: 2 * time.Minute,
		MixedC: 8, MixedTime: 20 * time.Second, Rounds: 20,
	}
)

// compareCmd starts each server in turn on a free loopback port with a
// fresh data directory, runs the same scenarios against it, and writes the
// JSON lines, RESULTS.md and the chart.
func compareCmd(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	servers := fs.String("servers", "almanac,radicale,xandikos", "servers to run, in order")
	almanacBin := fs.String("almanac", "", "path of the almanac binary (required when almanac is in --servers)")
	almanacFlags := fs.String("almanac-flags", "", "extra flags for `almanac serve`, space separated")
	almanacVersion := fs.String("almanac-version", "", "version string recorded for almanac (e.g. git describe)")
	baseline := fs.String("baseline", "radicale", "server the ratio columns compare against")
	jsonl := fs.String("jsonl", "bench/results.jsonl", "where to write the JSON lines")
	resultsMD := fs.String("results", "bench/RESULTS.md", "where to write the Markdown report")
	chart := fs.String("chart", "bench/results.svg", "where to write the SVG chart")
	targetN := fs.Int("target-n", 10000, "size at which the issue's targets are judged")
	command := fs.String("command", "", "the command that ran this one (e.g. make bench-compare), recorded in RESULTS.md above this command line")
	feedN := fs.Int("feed-n", 10000, "PUTs timed through Almanac's gRPC and NATS change feed (0 skips the feed)")
	feedC := fs.Int("feed-c", 16, "concurrent writers of the feed scenario")
	note := fs.String("note", "", "a note on the run's conditions for RESULTS.md")
	freshN := fs.String("fresh-n", "1000,10000", "sizes at which each server is also measured fresh: memory and disk after loading exactly N events and one client's first sync (empty skips)")
	freshBudget := fs.Duration("fresh-budget", bench.FreshBudget, "time each server gets for a fresh row's load and first sync; a server still busy then is reported as timed out and not measured")
	ap := bindPlan(fs, "almanac-", almanacPlan)
	pp := bindPlan(fs, "peer-", peerPlan)
	_ = fs.Parse(args)
	aPlan, err := ap.plan()
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	pPlan, err := pp.plan()
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	var fresh []int
	if *freshN != "" {
		if fresh, err = parseSizes(*freshN, 1); err != nil {
			return fmt.Errorf("compare: --fresh-n: %w", err)
		}
	}
	out, err := os.Create(*jsonl)
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	defer out.Close()
	ctx := context.Background()
	rep := bench.Report{Baseline: *baseline, Date: time.Now().UTC().Format(time.RFC3339), TargetN: *targetN,
		Versions: map[string]string{"almanac": *almanacVersion}}
	emit := func(r bench.Result) {
		fmt.Fprintln(os.Stderr, r.String())
		rep.Results = append(rep.Results, r)
		if err := r.WriteJSON(out); err != nil {
			fmt.Fprintln(os.Stderr, "almanac-bench:", err)
		}
	}
	startLoad := loadAvg()
	disk, err := bench.DiskProbe(os.TempDir(), 3*time.Second)
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	emit(disk)
	for _, name := range strings.Split(*servers, ",") {
		if err := compareOne(ctx, strings.TrimSpace(name), *almanacBin, strings.Fields(*almanacFlags), bench.Config{N: *feedN, C: *feedC}, aPlan, pPlan, fresh, *freshBudget, &rep, emit); err != nil {
			fmt.Fprintln(os.Stderr, "almanac-bench:", err)
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %v", name, err))
		}
	}
	rep.Commands = []string{shellJoin(os.Args)}
	if *command != "" {
		rep.Commands = append([]string{*command}, rep.Commands...)
	}
	if *note != "" {
		rep.Notes = append(rep.Notes, *note)
	}
	rep.Notes = append(rep.Notes, fmt.Sprintf("load average (1, 5, 15 min) at the start: %s; at the end: %s "+
		"(the load generator and the server share the machine's cores; other work on the machine shows here)", startLoad, loadAvg()))
	return writeOutputs(rep, *resultsMD, *chart)
}

func compareOne(ctx context.Context, name, almanacBin string, almanacFlags []string, feed bench.Config, aPlan, pPlan bench.Plan,
	fresh []int, freshBudget time.Duration, rep *bench.Report, emit func(bench.Result)) error {
	s, loader, plan, err := startServer(ctx, name, almanacBin, almanacFlags, aPlan, pPlan, rep)
	if err != nil {
		return err
	}
	bench.Run(ctx, bench.NewClient(s.Target, 64), loader, plan, emit)
	s.Stop()
	for _, n := range fresh {
		if err := freshOne(ctx, name, almanacBin, almanacFlags, n, freshBudget, rep, emit); err != nil {
			return err
		}
	}
	if name == "almanac" && feed.N > 0 {
		return runFeed(ctx, almanacBin, almanacFlags, feed, emit)
	}
	return nil
}

// freshOne measures a fresh server's memory and disk after a load of n
// events and one client's first sync (bench.FreshFootprint), within budget.
func freshOne(ctx context.Context, name, almanacBin string, almanacFlags []string, n int, budget time.Duration,
	rep *bench.Report, emit func(bench.Result)) error {
	s, loader, _, err := startServer(ctx, name, almanacBin, almanacFlags, bench.Plan{}, bench.Plan{}, rep)
	if err != nil {
		return err
	}
	defer s.Stop()
	rs, err := bench.FreshFootprint(ctx, bench.NewClient(s.Target, 64), loader, n, budget)
	if err != nil {
		emit(bench.Result{Server: s.Target.Name, Scenario: bench.FreshPrefix + "rss", N: n, Errors: 1, FirstError: err.Error()})
		return nil
	}
	for _, r := range rs {
		emit(r)
	}
	return nil
}

// startServer starts the named server with its loader and plan (Almanac's
// or the peers').
func startServer(ctx context.Context, name, almanacBin string, almanacFlags []string, aPlan, pPlan bench.Plan,
	rep *bench.Report) (*bench.Server, bench.Loader, bench.Plan, error) {
	var (
		s      *bench.Server
		err    error
		loader bench.Loader
		plan   = pPlan
	)
	switch name {
	case "almanac":
		if almanacBin == "" {
			return nil, nil, plan, fmt.Errorf("almanac: --almanac is required")
		}
		s, err = bench.StartAlmanac(ctx, almanacBin, almanacFlags...)
		loader, plan = bench.HTTPLoader{C: 32}, aPlan
	case "radicale":
		s, err = bench.StartRadicale(ctx)
		rep.Versions[name] = version("radicale", "--version")
		if err == nil {
			loader = bench.RadicaleLoader(s)
		}
	case "xandikos":
		s, err = bench.StartXandikos(ctx)
		rep.Versions[name] = version("xandikos", "--version")
		if err == nil {
			loader = bench.XandikosLoader(s)
		}
	default:
		return nil, nil, plan, fmt.Errorf("unknown server %q", name)
	}
	return s, loader, plan, err
}

// runFeed measures the change feed on an Almanac of its own with gRPC and
// embedded NATS on, so the other scenarios run without the feed's cost.
func runFeed(ctx context.Context, bin string, flags []string, cfg bench.Config, emit func(bench.Result)) error {
	var keep []string
	for _, f := range flags {
		if !strings.HasPrefix(f, "--nats") && !strings.HasPrefix(f, "--grpc") {
			keep = append(keep, f)
		}
	}
	s, err := bench.StartAlmanacFeed(ctx, bin, keep...)
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	defer s.Stop()
	cfg.Budget = 2 * time.Minute
	rs, err := bench.RunFeed(ctx, bench.NewClient(s.Target, max(cfg.C, 1)), s.Feed, cfg)
	for _, r := range rs {
		emit(r)
	}
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	return nil
}

// shellJoin joins args into a command line a shell would split back the
// same way, quoting the arguments that need it.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$#()*?;&|<>") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

func version(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	v := strings.TrimSpace(string(out))
	if p, err := exec.Command("dpkg-query", "-W", "-f=${Version}", bin).Output(); err == nil {
		v += " (Debian package " + string(p) + ")"
	}
	return v
}

// microResults is the file of micro-benchmark figures appended to the
// report, and scaleResults the scale run's section (scale-report) after
// it.
const (
	microResults = "micro-results.md"
	scaleResults = "scale-results.md"
)

func writeOutputs(rep bench.Report, resultsMD, chart string) error {
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	// The micro-benchmarks (go test -bench) are measured by hand and kept
	// in their own file beside the report, so a new comparison keeps them.
	// So is the scale run's section: a run to a million objects takes
	// hours on this machine, and is no part of a comparison.
	for _, name := range []string{microResults, scaleResults} {
		part, err := os.ReadFile(filepath.Join(filepath.Dir(resultsMD), name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("compare: %w", err)
		}
		if len(part) > 0 {
			md.WriteString("\n")
			md.Write(part)
		}
	}
	if err := os.WriteFile(resultsMD, md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	var svg bytes.Buffer
	if err := bench.WriteChart(&svg, rep.Results); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	if err := os.WriteFile(chart, svg.Bytes(), 0o644); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s and %s\n", resultsMD, chart)
	return nil
}

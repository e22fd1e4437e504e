package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// ScalePlan is the scale benchmark: a store grown step by step to Sizes
// objects in all, spread evenly over Users calendars (one per user), and
// after each step the measurements of RunScaleStep.
type ScalePlan struct {
	Bin    string // the almanac binary
	Sizes  []int  // objects in the whole store after each step, ascending
	Users  int    // users, each with one calendar; default 1000
	Rounds int    // sync rounds (samples) per step; default 20
	PutN   int    // PUTs timed one at a time per step; default 200
	// LoadN PUTs by LoadC clients per step measure the server's CPU and
	// garbage collections a PUT (scenario "scale-put-load"); defaults
	// 4000 and 16.
	LoadN, LoadC int
	// Flags are extra flags for `almanac serve` (e.g. --memory-budget).
	Flags []string
	// Full are the sizes at which the offline commands (verify, rebuild,
	// backup), which read the whole store and take minutes at a million
	// objects, are timed too; nil: every size. The cheap measurements
	// (start, RSS, sync, PUT) run at every size.
	Full []int
	// ImportChunk is the most objects one `almanac import` takes; default
	// 100,000. The import tree is written, imported and removed per chunk,
	// so a step to a million objects needs ~0.4 GB of small files at a
	// time rather than ~3.6 GB (a 1.2 KB file takes a 4 KiB block).
	ImportChunk int
}

// ScaleUser is the name of user u of the scale benchmark: the bench user
// first (the only one with a password: the one the HTTP measurements
// use), then u0001, u0002...
func ScaleUser(u int) string {
	if u == 0 {
		return BenchUser
	}
	return fmt.Sprintf("u%04d", u)
}

// writeScaleTree writes, for every user, events from..to-1 of the
// generator into a Radicale-layout tree under dir (collection-root/USER/
// calendar/, with the .Radicale.props that makes it a calendar): what
// `almanac import --users` reads.
func writeScaleTree(dir string, users, from, to int) error {
	for u := range users {
		cd := filepath.Join(dir, "collection-root", ScaleUser(u), "calendar")
		if err := os.MkdirAll(cd, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(cd, ".Radicale.props"), []byte(`{"tag": "VCALENDAR"}`), 0o644); err != nil {
			return err
		}
		for i := from; i < to; i++ {
			ev := Event(i, 0)
			if err := os.WriteFile(filepath.Join(cd, ev.Name), ev.Body, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// cmdBound is the longest an offline command (import of a chunk, verify,
// rebuild, backup) of a store of n objects may take before the run fails:
// 10 minutes, or a millisecond an object (a million objects: 17 minutes;
// the 100k step took about a minute each on two loaded cores).
func cmdBound(n int) time.Duration {
	return max(10*time.Minute, time.Duration(n)*time.Millisecond)
}

// timedCmd runs the almanac binary with args, killing it after bound, and
// reports how long it took and its peak resident set in KiB (the kernel's
// ru_maxrss; 0 where the platform does not say).
func timedCmd(ctx context.Context, bound time.Duration, bin string, args ...string) (time.Duration, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("not done within %v: %w", bound, ctx.Err())
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%s %v: %w: %.2000s", bin, args, err, out)
	}
	peak := int64(0)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		peak = int64(ru.Maxrss) // KiB on Linux
	}
	return time.Since(t0), peak, nil
}

// RunScale grows one data directory (under work) through plan.Sizes. Each
// step imports the new objects offline with `almanac import --users
// --data` (the engine's own loader, as an operator migrating from
// Radicale would: far faster than PUTs through HTTP, and the scale is the
// point here), then starts `almanac serve` on it with the default flags
// and measures. Results go to emit as they come.
func RunScale(ctx context.Context, plan ScalePlan, work string, emit func(Result)) error {
	if plan.Users <= 0 {
		plan.Users = 1000
	}
	if plan.Rounds <= 0 {
		plan.Rounds = 20
	}
	if plan.PutN <= 0 {
		plan.PutN = 200
	}
	if plan.ImportChunk <= 0 {
		plan.ImportChunk = 100_000
	}
	data := filepath.Join(work, "data")
	per := 0 // events per calendar so far
	for _, n := range plan.Sizes {
		next := max(per, n/plan.Users)
		step := max(1, plan.ImportChunk/plan.Users) // events per calendar per import
		var took time.Duration
		var peak int64 // the largest chunk's peak RSS, KiB
		for from := per; from < next; from += step {
			d, p, err := importScaleChunk(ctx, plan, work, data, from, min(from+step, next))
			if err != nil {
				return fmt.Errorf("scale: import to %d: %w", n, err)
			}
			took += d
			peak = max(peak, p)
		}
		added := (next - per) * plan.Users
		emit(Result{Server: "almanac", Scenario: "scale-import", N: n, Ops: added, ElapsedS: took.Seconds(), HWMKB: peak,
			Throughput: float64(added) / took.Seconds(), Note: fmt.Sprintf("%d users, %d events each, peak RSS %.0f MiB", plan.Users, next, float64(peak)/1024)})
		per = next
		if err := RunScaleStep(ctx, plan, data, per*plan.Users, per, emit); err != nil {
			return err
		}
	}
	return nil
}

// importScaleChunk imports events from..to-1 of every user's calendar
// into data with `almanac import --users` and says how long the import
// took (writing the tree is not counted) and its peak RSS in KiB.
func importScaleChunk(ctx context.Context, plan ScalePlan, work, data string, from, to int) (time.Duration, int64, error) {
	tree := filepath.Join(work, "import")
	if err := writeScaleTree(tree, plan.Users, from, to); err != nil {
		return 0, 0, err
	}
	took, peak, err := timedCmd(ctx, cmdBound(plan.Users*(to-from)), plan.Bin, "import", "--users", tree, "--data", data)
	if err != nil {
		return 0, 0, err
	}
	return took, peak, os.RemoveAll(tree)
}

// RunScaleStep measures a store of n objects, per in each calendar: the
// time `almanac serve` takes to answer, its memory and the data
// directory, sync of the bench user's calendar (initial, incremental
// after 10 changes, no change: the last two must stay flat as n grows),
// PUT latency into a new calendar, then, stopped and when n is one of
// plan.Full, `almanac verify`, `almanac rebuild` and `almanac backup`.
func RunScaleStep(ctx context.Context, plan ScalePlan, data string, n, per int, emit func(Result)) error {
	t0 := time.Now()
	s, err := StartAlmanac(ctx, plan.Bin, append([]string{"--data", data}, plan.Flags...)...)
	if err != nil {
		return fmt.Errorf("scale: start at %d: %w", n, err)
	}
	defer s.Stop()
	started := time.Since(t0)
	emit(Result{Server: s.Name, Scenario: "scale-start", N: n, Ops: 1, ElapsedS: started.Seconds(),
		Note: fmt.Sprintf("%.2f s from exec until it answers a PROPFIND (polled every 100 ms); the NATS publisher then publishes the imported changes in the background", started.Seconds())})
	s.DataDir = data
	c := NewClient(s.Target, 1)
	// The NATS publisher starts by publishing what the import appended;
	// measuring while it does would measure it.
	caught, err := waitPublished(ctx, c, 30*time.Minute)
	if err != nil {
		return fmt.Errorf("scale: at %d: %w", n, err)
	}
	emit(Result{Server: s.Name, Scenario: "scale-feed-catchup", N: n, Ops: 1, ElapsedS: caught.Seconds(),
		Note: fmt.Sprintf("%.2f s after it answered, until the NATS publisher had published the imported changes", caught.Seconds())})
	ds := Dataset{Coll: s.CalendarHome + "calendar/", N: per}
	rs, err := RunSync(ctx, c, ds, Config{N: per, Rounds: plan.Rounds, Budget: 10 * time.Minute})
	if err != nil {
		return fmt.Errorf("scale: sync at %d: %w", n, err)
	}
	for _, r := range rs {
		r.N, r.Note = n, fmt.Sprintf("the bench user's calendar of %d in a store of %d", per, n)
		emit(r)
	}
	put, err := RunPut(ctx, c, Config{N: plan.PutN, C: 1})
	if err != nil {
		return fmt.Errorf("scale: put at %d: %w", n, err)
	}
	put.Scenario, put.N, put.Note = "scale-put", n, fmt.Sprintf("%d PUTs one at a time into a new calendar", plan.PutN)
	emit(put)
	load, err := runPutLoad(ctx, c, plan)
	if err != nil {
		return fmt.Errorf("scale: put load at %d: %w", n, err)
	}
	load.N = n
	emit(load)
	emitAll(Footprint(ctx, c, n, RawSize(per)*int64(plan.Users)), emit)
	if err := s.Shutdown(); err != nil {
		return err
	}
	if plan.Full != nil && !slices.Contains(plan.Full, n) {
		return nil
	}
	for _, cmd := range [][]string{
		{"verify", "--data", data},
		{"rebuild", "--data", data},
		{"backup", data + ".backup", "--data", data},
	} {
		took, peak, err := timedCmd(ctx, cmdBound(n), plan.Bin, cmd...)
		if err != nil {
			return fmt.Errorf("scale: at %d: %w", n, err)
		}
		emit(Result{Server: "almanac", Scenario: "scale-" + cmd[0], N: n, Ops: 1, ElapsedS: took.Seconds(), HWMKB: peak,
			Note: fmt.Sprintf("%.2f s, peak RSS %.0f MiB, server stopped", took.Seconds(), float64(peak)/1024)})
	}
	return os.RemoveAll(data + ".backup")
}

// runPutLoad PUTs plan.LoadN new events with plan.LoadC clients into a new
// calendar and reads, from /metrics before and after, the server's CPU
// time and garbage collections per PUT: what the load on the machine does
// not change, unlike PUT/s (the memory budget's cost shows there).
func runPutLoad(ctx context.Context, c *Client, plan ScalePlan) (Result, error) {
	n, conc := plan.LoadN, plan.LoadC
	if n <= 0 {
		n = 4000
	}
	if conc <= 0 {
		conc = 16
	}
	names := []string{"process_cpu_seconds_total", "go_gc_duration_seconds_count"}
	before, err := ScrapeMetrics(ctx, c, names)
	if err != nil {
		return Result{}, err
	}
	r, err := RunPut(ctx, NewClient(c.T, conc), Config{N: n, C: conc})
	if err != nil {
		return r, err
	}
	after, err := ScrapeMetrics(ctx, c, names)
	if err != nil {
		return r, err
	}
	cpu := after[names[0]] - before[names[0]]
	gcs := after[names[1]] - before[names[1]]
	r.Scenario = "scale-put-load"
	r.Note = fmt.Sprintf("%d PUTs by %d clients into a new calendar: %.0f CPU-µs a PUT, %.2f collections per 100 PUTs", n, conc, cpu/float64(n)*1e6, gcs/float64(n)*100)
	return r, nil
}

// waitPublished waits until the server's NATS publisher has no backlog
// (almanac_nats_publish_lag_events 0 on /metrics), at most max, and says
// how long that took.
func waitPublished(ctx context.Context, c *Client, most time.Duration) (time.Duration, error) {
	const lag = "almanac_nats_publish_lag_events"
	t0 := time.Now()
	for {
		ms, err := ScrapeMetrics(ctx, c, []string{lag})
		if err != nil {
			return 0, err
		}
		if v, ok := ms[lag]; ok && v == 0 {
			return time.Since(t0), nil
		}
		if time.Since(t0) > most {
			return 0, fmt.Errorf("the NATS publisher still lags after %v (%s %v)", most, lag, ms[lag])
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

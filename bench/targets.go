package bench

import (
	"fmt"
	"slices"
	"strings"
)

// TargetCheck is one of issue 7's goals, judged on one run's results.
type TargetCheck struct {
	Goal   string
	Figure string // what was measured
	Met    bool
	Known  bool // false when the run lacked the results to judge
}

// CheckTargets judges the goals for server (normally "almanac") against
// the faster of the other servers, at size n (normally 10000) and the
// largest sync size.
func CheckTargets(results []Result, server string, n int) []TargetCheck {
	find := func(srv, sc string, n, c int) (Result, bool) {
		for _, r := range results {
			if r.Server == srv && r.Scenario == sc && (n == 0 || r.N == n) && (c == 0 || r.C == c) && !(r.Errors > 0 && r.Ops == 0) {
				return r, true
			}
		}
		return Result{}, false
	}
	// best compares server with the best peer result of the scenario.
	best := func(goal, sc string, n, c int, want float64, needCorrect bool) TargetCheck {
		tc := TargetCheck{Goal: goal}
		m, _ := metricOf(sc)
		a, ok := find(server, sc, n, c)
		if !ok {
			tc.Figure = "not measured"
			return tc
		}
		var peer Result
		found := false
		for _, srv := range serverNames(results) {
			if srv == server {
				continue
			}
			if r, ok := find(srv, sc, n, c); ok && (!found || ratio(r, peer, m) > 1) {
				peer, found = r, true
			}
		}
		if !found {
			tc.Figure = "no peer result"
			return tc
		}
		q := ratio(a, peer, m)
		tc.Known = true
		tc.Met = q >= want && (!needCorrect || a.Correct == nil || *a.Correct)
		tc.Figure = fmt.Sprintf("%s %s %s vs %s %s: %s×", server, formatValue(m.value(a)), m.name, peer.Server, formatValue(m.value(peer)), formatValue(q))
		if peer.Partial {
			tc.Figure += " (peer partial)"
		}
		if needCorrect && a.Correct != nil {
			tc.Figure += fmt.Sprintf("; answer %d/%d", a.Got, a.Want)
		}
		return tc
	}
	out := []TargetCheck{
		best("durable PUT throughput at C=32 ≥ 100× the faster peer", "put", 0, 32, 100, false),
		best(fmt.Sprintf("incremental sync after 10 changes at N=%d ≥ 100× faster", n), "sync-incremental", n, 0, 100, true),
		best(fmt.Sprintf("no-change sync at N=%d ≥ 100× faster", n), "sync-nochange", n, 0, 100, true),
		best(fmt.Sprintf("PROPFIND Depth 1 at N=%d ≥ 20× faster", n), "propfind", n, 0, 20, true),
		best(fmt.Sprintf("multiget of all %d ≥ 20× faster", n), "multiget", n, 0, 20, true),
		best(fmt.Sprintf("one-month query at N=%d ≥ 50× faster with the right answer", n), "query", n, 0, 50, true),
	}
	out = append(out, flatSync(results, server)...)
	return append(out, rssCheck(results, server))
}

// flatSync checks that incremental and no-change sync stay flat across
// every measured size: the slowest p50 within 2× of the fastest, whichever
// sizes they are (a check of the smallest and the largest alone passed a
// 10k no-change sync 4.4× the 1k one).
func flatSync(results []Result, server string) []TargetCheck {
	var out []TargetCheck
	for _, sc := range []string{"sync-incremental", "sync-nochange"} {
		var rs []Result
		for _, r := range results {
			if r.Server == server && r.Scenario == sc && r.Count > 0 {
				rs = append(rs, r)
			}
		}
		slices.SortFunc(rs, func(a, b Result) int { return a.N - b.N })
		tc := TargetCheck{Goal: fmt.Sprintf("%s flat across every measured size (slowest p50 within 2× of the fastest)", sc)}
		if len(rs) < 2 {
			tc.Figure = "not measured at two sizes"
			out = append(out, tc)
			continue
		}
		lo, hi := rs[0].P50, rs[0].P50
		var figs []string
		for _, r := range rs {
			lo, hi = min(lo, r.P50), max(hi, r.P50)
			figs = append(figs, fmt.Sprintf("N=%d %.2f ms", r.N, r.P50))
		}
		tc.Known, tc.Met = true, hi <= 2*lo
		tc.Figure = "p50 " + strings.Join(figs, ", ")
		out = append(out, tc)
	}
	return out
}

func rssCheck(results []Result, server string) TargetCheck {
	tc := TargetCheck{Goal: "server RSS at the largest N below 150 MB"}
	var last Result
	for _, r := range results {
		if r.Server == server && r.Scenario == "rss" && r.RSSKB > 0 && r.N >= last.N {
			last = r
		}
	}
	if last.RSSKB == 0 {
		tc.Figure = "not measured"
		return tc
	}
	tc.Known, tc.Met = true, last.RSSKB < 150*1024
	tc.Figure = fmt.Sprintf("%.0f MB at N=%d (all datasets loaded)", float64(last.RSSKB)/1024, last.N)
	return tc
}

package bench

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// RunQuery asks for the events of one month (QueryWindow) with a
// calendar-query, without and with expand, cfg.Rounds times each, and
// compares the answer with ExpectedQuery: matching resources without
// expand, expanded VEVENT instances with it.
func RunQuery(ctx context.Context, c *Client, ds Dataset, cfg Config) ([]Result, error) {
	cfg.EnsureDefaults()
	want := ExpectedQuery(ds.N)
	var out []Result
	for _, expand := range []bool{false, true} {
		res := Result{Server: c.T.Name, Scenario: "query", N: ds.N, C: 1}
		wantN := want.Objects
		if expand {
			res.Scenario, wantN = "query-expand", want.Instances
		}
		var lat Latencies
		start := time.Now()
		for r := 0; r < cfg.Rounds; r++ {
			x, err := c.CalendarQuery(ctx, ds.Coll, QueryWindow.Start, QueryWindow.End, expand)
			if err != nil {
				res.Errors++
				res.FirstError = err.Error()
				break
			}
			lat.Add(x.Took)
			ms, err := ParseMultistatus(x.Body)
			if err != nil {
				return out, fmt.Errorf("query: %w", err)
			}
			res.Bytes = int64(len(x.Body))
			res.check(countMatches(ms, expand), wantN)
			if time.Since(start) > cfg.Budget {
				break
			}
		}
		res.Summary = lat.Summary()
		res.Ops = res.Count
		res.ElapsedS = time.Since(start).Seconds()
		out = append(out, res)
	}
	return out, nil
}

// countMatches counts resources, or with expand the VEVENTs in their data.
func countMatches(ms *Multistatus, expand bool) int {
	n := 0
	for _, r := range ms.Responses {
		if r.Gone() {
			continue
		}
		if !expand {
			n++
			continue
		}
		n += strings.Count(r.Data(), "BEGIN:VEVENT")
	}
	return n
}

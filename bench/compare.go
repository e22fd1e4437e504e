package bench

import (
	"fmt"
	"slices"
	"strings"
)

// metric is the figure a scenario is judged by.
type metric struct {
	name   string
	higher bool // higher is better (throughput); else lower (latency, memory)
	value  func(Result) float64
}

func metricOf(scenario string) (metric, bool) {
	// FreshFootprint's rows are judged as the footprint rows they repeat.
	switch scenario = strings.TrimPrefix(scenario, FreshPrefix); scenario {
	case "put", "vcard-put":
		return metric{"PUT/s", true, func(r Result) float64 { return r.Throughput }}, true
	case "multiget":
		return metric{"objects/s", true, func(r Result) float64 { return r.Throughput }}, true
	case "mixed":
		return metric{"loops/s", true, func(r Result) float64 { return r.Throughput }}, true
	case "propfind", "query", "query-expand", "sync-initial", "sync-incremental", "sync-nochange":
		return metric{"p50 ms", false, func(r Result) float64 { return r.P50 }}, true
	case "feed-grpc", "feed-nats": // the feed's target is on its tail
		return metric{"p99 ms", false, func(r Result) float64 { return r.P99 }}, true
	case "rss":
		return metric{"RSS MB", false, func(r Result) float64 { return float64(r.RSSKB) / 1024 }}, true
	case "rss-anon", "rss-file": // rssParts: the anonymous and file pages of "rss"
		return metric{strings.TrimPrefix(scenario, "rss-") + " RSS MB", false, func(r Result) float64 { return float64(r.RSSKB) / 1024 }}, true
	case "disk":
		return metric{"data dir MB", false, func(r Result) float64 { return float64(r.DiskBytes) / (1 << 20) }}, true
	case "disk-fsync":
		return metric{"fsync/s", true, func(r Result) float64 { return r.Throughput }}, true
	}
	return metric{}, false
}

// rowKey identifies one line of the comparison table.
type rowKey struct {
	Scenario string
	N, C     int
}

// Compare renders results as a Markdown table, one row per scenario, size
// and concurrency, one column per server (in order of first appearance),
// and for every other server its ratio against baseline: how many times
// better it is (>1 is better, whichever way the metric points). A value the
// server got wrong is marked ✗, one cut short by a time budget ~, one
// whose budget ran out before it could be measured "timed out after N s".
func Compare(results []Result, baseline string) string {
	var servers []string
	rows := map[rowKey]map[string]Result{}
	var keys []rowKey
	for _, r := range results {
		if _, ok := metricOf(r.Scenario); !ok || r.Server == "disk" {
			continue
		}
		if !slices.Contains(servers, r.Server) {
			servers = append(servers, r.Server)
		}
		k := rowKey{r.Scenario, r.N, r.C}
		if rows[k] == nil {
			rows[k] = map[string]Result{}
			keys = append(keys, k)
		}
		rows[k][r.Server] = r
	}
	var b strings.Builder
	b.WriteString("| scenario | N | C | metric |")
	for _, s := range servers {
		fmt.Fprintf(&b, " %s |", s)
	}
	for _, s := range servers {
		if s != baseline {
			fmt.Fprintf(&b, " %s vs %s |", s, baseline)
		}
	}
	b.WriteString("\n|---|--:|--:|---|" + strings.Repeat("--:|", 2*len(servers)-1) + "\n")
	for _, k := range keys {
		m, _ := metricOf(k.Scenario)
		fmt.Fprintf(&b, "| %s | %d | %d | %s |", k.Scenario, k.N, k.C, m.name)
		for _, s := range servers {
			b.WriteString(" " + cell(rows[k], s, m) + " |")
		}
		for _, s := range servers {
			if s != baseline {
				b.WriteString(" " + ratioCell(rows[k], s, baseline, m) + " |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func cell(row map[string]Result, server string, m metric) string {
	r, ok := row[server]
	if !ok {
		return "—"
	}
	if r.Timeout {
		return fmt.Sprintf("timed out after %.0f s", r.ElapsedS)
	}
	if r.Errors > 0 && r.Ops == 0 && r.RSSKB == 0 {
		return "failed"
	}
	s := formatValue(m.value(r))
	if r.Correct != nil && !*r.Correct {
		s += fmt.Sprintf(" ✗ (%d/%d)", r.Got, r.Want)
	}
	if r.Partial {
		s += " ~"
	}
	if r.Errors > 0 {
		s += fmt.Sprintf(" (%d err)", r.Errors)
	}
	return s
}

// Ratio is how many times better a is than b by m; 0 when undefined.
func ratio(a, b Result, m metric) float64 {
	va, vb := m.value(a), m.value(b)
	if va <= 0 || vb <= 0 {
		return 0
	}
	if m.higher {
		return va / vb
	}
	return vb / va
}

func ratioCell(row map[string]Result, server, baseline string, m metric) string {
	a, ok1 := row[server]
	b, ok2 := row[baseline]
	if !ok1 || !ok2 {
		return "—"
	}
	q := ratio(a, b, m)
	if q == 0 {
		return "—"
	}
	return formatValue(q) + "×"
}

func formatValue(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

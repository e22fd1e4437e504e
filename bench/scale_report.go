package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"gonum.org/v1/plot"
)

// FlatBound is the most a sync that must stay flat (incremental, no
// change) may take at a store size, as a multiple of its p50 at the
// smallest size, for ScaleFlat to call it flat.
const FlatBound = 3.0

// MinSamples is the fewest samples a percentile the scale report shows
// must rest on.
const MinSamples = 20

// FlatCheck is the verdict on one sync scenario at one store size against
// the smallest size: Ratio of the p50s, whether the responses had the same
// size (the same answer), whether there were at least MinSamples samples.
type FlatCheck struct {
	Scenario  string
	N, BaseN  int
	Ratio     float64
	SameBytes bool
	Samples   int
	Flat      bool
}

// ScaleFlat checks, at every measured store size, that the incremental and
// no-change syncs stay flat: p50 within FlatBound of the smallest size's
// (the smallest whose syncs found as many changes), the same response
// size, at least MinSamples samples.
func ScaleFlat(results []Result) []FlatCheck {
	var out []FlatCheck
	for _, sc := range []string{"sync-incremental", "sync-nochange"} {
		var rs []Result
		for _, r := range results {
			if r.Scenario == sc {
				rs = append(rs, r)
			}
		}
		slices.SortFunc(rs, func(a, b Result) int { return a.N - b.N })
		// The base is the smallest size whose syncs found as many
		// changes as the largest's: a calendar of one object at 1,000 has
		// fewer than a round's ten changes to find.
		i := slices.IndexFunc(rs, func(r Result) bool { return perRound(r) == perRound(rs[len(rs)-1]) })
		if i < 0 || rs[i].P50 <= 0 {
			continue
		}
		base := rs[i]
		for _, r := range rs[i:] {
			c := FlatCheck{Scenario: sc, N: r.N, BaseN: base.N, Ratio: r.P50 / base.P50, SameBytes: r.Bytes == base.Bytes, Samples: r.Count}
			c.Flat = c.Ratio <= FlatBound && c.SameBytes && c.Samples >= MinSamples
			out = append(out, c)
		}
	}
	return out
}

// perRound is how many changes one sync of r found.
func perRound(r Result) int {
	if r.Count == 0 {
		return 0
	}
	return r.Got / r.Count
}

// ScaleHeading is the heading of the scale section of RESULTS.md.
const ScaleHeading = "## Scale: 1,000 users, one calendar each (`almanac-bench scale`)"

// ScaleMeta is what the scale report says about its run.
type ScaleMeta struct {
	Command string // how the run was started
	Note    string // conditions: load, binary, date
}

// scaleRow is one row of the scale report's table: a label and the cell
// of a result.
type scaleRow struct {
	label, scenario string
	cell            func(Result) string
}

var scaleRows = []scaleRow{
	{"import (objects/s)", "scale-import", func(r Result) string { return fmt.Sprintf("%.0f", r.Throughput) }},
	{"import's peak RSS (MiB)", "scale-import", peakCell},
	{"start until it answers (s)", "scale-start", func(r Result) string { return fmt.Sprintf("%.2f", r.ElapsedS) }},
	{"NATS publisher catch-up (s)", "scale-feed-catchup", func(r Result) string { return fmt.Sprintf("%.1f", r.ElapsedS) }},
	{"sync initial p50 / p99 (ms)", "sync-initial", latencyCell},
	{"sync incremental p50 / p99 (ms)", "sync-incremental", latencyCell},
	{"sync no change p50 / p99 (ms)", "sync-nochange", latencyCell},
	{"PUT one at a time p50 / p99 (ms)", "scale-put", latencyCell},
	{"PUT by 16 clients: CPU-µs a PUT", "scale-put-load", func(r Result) string { return noteField(r.Note, "CPU-µs a PUT") }},
	{"RSS / peak (MiB)", "rss", func(r Result) string {
		return fmt.Sprintf("%.0f / %.0f", float64(r.RSSKB)/1024, float64(r.HWMKB)/1024)
	}},
	{"data directory (MiB)", "disk", func(r Result) string { return fmt.Sprintf("%.0f", float64(r.DiskBytes)/(1<<20)) }},
	{"verify (s)", "scale-verify", secondsCell},
	{"verify's peak RSS (MiB)", "scale-verify", peakCell},
	{"rebuild (s)", "scale-rebuild", secondsCell},
	{"rebuild's peak RSS (MiB)", "scale-rebuild", peakCell},
	{"backup (s)", "scale-backup", secondsCell},
	{"backup's peak RSS (MiB)", "scale-backup", peakCell},
}

func secondsCell(r Result) string { return fmt.Sprintf("%.1f", r.ElapsedS) }

// peakCell is an offline command's peak RSS, empty for a run that did not
// record it (the row is left out when no size has one).
func peakCell(r Result) string {
	if r.HWMKB <= 0 {
		return ""
	}
	return fmt.Sprintf("%.0f", float64(r.HWMKB)/1024)
}

func latencyCell(r Result) string {
	return fmt.Sprintf("%.1f / %.1f (%d)", r.P50, r.P99, r.Count)
}

// noteField returns the number in note just before suffix ("585 CPU-µs a
// PUT" gives 585), or "".
func noteField(note, suffix string) string {
	before, _, ok := strings.Cut(note, " "+suffix)
	if !ok {
		return ""
	}
	f := strings.Fields(before)
	return f[len(f)-1]
}

// WriteScaleMarkdown writes the scale section of RESULTS.md: one column a
// store size, one row a measurement, then the flat checks of ScaleFlat.
func WriteScaleMarkdown(w io.Writer, results []Result, meta ScaleMeta) error {
	var sizes []int
	for _, r := range results {
		if strings.HasPrefix(r.Scenario, "scale-import") && !slices.Contains(sizes, r.N) {
			sizes = append(sizes, r.N)
		}
	}
	slices.Sort(sizes)
	var b strings.Builder
	b.WriteString(ScaleHeading + "\n\n")
	fmt.Fprintf(&b, "`%s`\n\n%s\n\n", meta.Command, meta.Note)
	b.WriteString("| objects in the store |")
	for _, n := range sizes {
		fmt.Fprintf(&b, " %d |", n)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(sizes)) + "\n")
	for _, row := range scaleRows {
		cells, measured := make([]string, len(sizes)), false
		for i, n := range sizes {
			cells[i] = "—"
			for _, r := range results {
				if r.Scenario == row.scenario && r.N == n {
					if c := row.cell(r); c != "" {
						cells[i], measured = c, true
					}
				}
			}
		}
		if measured { // a run that did not measure it (older runs: the peaks) shows no row
			fmt.Fprintf(&b, "| %s | %s |\n", row.label, strings.Join(cells, " | "))
		}
	}
	b.WriteString("\nSyncs are of the bench user's calendar (the store size over 1,000 objects); the number in parentheses is the samples.\n\n")
	fmt.Fprintf(&b, "Flat (p50 at most %.0f× that of the smallest size whose syncs found as many changes, the same response bytes, at least %d samples):\n\n", FlatBound, MinSamples)
	b.WriteString("| sync | size | p50 ratio to the smallest | same bytes | samples | flat |\n|---|---|---|---|---|---|\n")
	for _, c := range ScaleFlat(results) {
		fmt.Fprintf(&b, "| %s | %d | %.1f× | %v | %d | %s |\n", c.Scenario[len("sync-"):], c.N, c.Ratio, c.SameBytes, c.Samples, map[bool]string{true: "yes", false: "**no**"}[c.Flat])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteScaleChart draws the scale run as an SVG with two panels against
// the store size (log axes): the three syncs' p50, and RSS and the data
// directory.
func WriteScaleChart(w io.Writer, results []Result) error {
	sync := plot.New()
	sync.Title.Text = "sync of one calendar vs objects in the store"
	sync.X.Label.Text, sync.Y.Label.Text = "objects in the store (log)", "p50 latency, ms (log)"
	mem := plot.New()
	mem.Title.Text = "memory and disk vs objects in the store"
	mem.X.Label.Text, mem.Y.Label.Text = "objects in the store (log)", "MiB (log)"
	for _, p := range []*plot.Plot{sync, mem} {
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
		p.Legend.Top = true
	}
	lines := []struct {
		p        *plot.Plot
		scenario string
		y        func(Result) float64
	}{
		{sync, "sync-initial", func(r Result) float64 { return r.P50 }},
		{sync, "sync-incremental", func(r Result) float64 { return r.P50 }},
		{sync, "sync-nochange", func(r Result) float64 { return r.P50 }},
		{mem, "rss", func(r Result) float64 { return float64(r.RSSKB) / 1024 }},
		{mem, "disk", func(r Result) float64 { return float64(r.DiskBytes) / (1 << 20) }},
	}
	for i, l := range lines {
		pts := series(results, "almanac", l.scenario, func(r Result) (float64, float64) { return float64(r.N), l.y(r) })
		if len(pts) == 0 {
			continue
		}
		if err := addLine(l.p, pts, l.scenario, serverColors[i%len(serverColors)], nil); err != nil {
			return err
		}
	}
	headroom(sync)
	headroom(mem)
	return drawPanels(w, sync, mem)
}

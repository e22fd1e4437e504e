package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// serverColors keeps each server's colour the same across the panels.
var serverColors = []color.RGBA{
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
}

// WriteChart draws an SVG with two panels: sync-collection latency (initial,
// incremental after 10 changes, no change) against collection size on log
// axes, and PUT throughput against client count.
func WriteChart(w io.Writer, results []Result) error {
	syncP, err := syncPlot(results)
	if err != nil {
		return err
	}
	putP, err := putPlot(results)
	if err != nil {
		return err
	}
	return drawPanels(w, syncP, putP)
}

// drawPanels writes left and right side by side as one SVG.
func drawPanels(w io.Writer, left, right *plot.Plot) error {
	const width, height = 11 * vg.Inch, 4.5 * vg.Inch
	c := vgsvg.New(width, height)
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 6, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	left.Draw(tiles.At(dc, 0, 0))
	right.Draw(tiles.At(dc, 1, 0))
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	return nil
}

func syncPlot(results []Result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "sync-collection latency vs collection size"
	p.X.Label.Text = "objects in the collection (log)"
	p.Y.Label.Text = "p50 latency, ms (log)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	dashes := map[string][]vg.Length{"sync-initial": nil, "sync-incremental": {vg.Points(6), vg.Points(3)}, "sync-nochange": {vg.Points(2), vg.Points(2)}}
	for si, server := range serverNames(results) {
		for _, sc := range []string{"sync-initial", "sync-incremental", "sync-nochange"} {
			pts := series(results, server, sc, func(r Result) (float64, float64) { return float64(r.N), r.P50 })
			if len(pts) == 0 {
				continue
			}
			if err := addLine(p, pts, server+" "+sc[len("sync-"):], serverColors[si%len(serverColors)], dashes[sc]); err != nil {
				return nil, err
			}
		}
	}
	headroom(p)
	return p, nil
}

func putPlot(results []Result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "durable PUT throughput (events)"
	p.X.Label.Text = "concurrent clients (log)"
	p.Y.Label.Text = "PUT/s (log)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	for si, server := range serverNames(results) {
		pts := series(results, server, "put", func(r Result) (float64, float64) { return float64(r.C), r.Throughput })
		if len(pts) == 0 {
			continue
		}
		if err := addLine(p, pts, server, serverColors[si%len(serverColors)], nil); err != nil {
			return nil, err
		}
	}
	headroom(p)
	return p, nil
}

// headroom widens the log Y axis to whole decades and adds two decades on
// top, so the legend (top right) does not cover the lines and every panel
// has labelled ticks.
func headroom(p *plot.Plot) {
	if p.Y.Min <= 0 || p.Y.Max <= 0 {
		return
	}
	p.Y.Min = math.Pow(10, math.Floor(math.Log10(p.Y.Min)))
	p.Y.Max = math.Pow(10, math.Ceil(math.Log10(p.Y.Max))+2)
}

func addLine(p *plot.Plot, pts plotter.XYs, label string, c color.Color, dashes []vg.Length) error {
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return fmt.Errorf("chart %s: %w", label, err)
	}
	l.Color, l.Dashes, s.Color = c, dashes, c
	p.Add(l, s)
	p.Legend.Add(label, l, s)
	return nil
}

// series picks one server's results of one scenario as sorted points,
// leaving out non-positive values, which a log axis cannot show.
func series(results []Result, server, scenario string, xy func(Result) (float64, float64)) plotter.XYs {
	var pts plotter.XYs
	for _, r := range results {
		if r.Server != server || r.Scenario != scenario || r.Errors > 0 && r.Ops == 0 {
			continue
		}
		x, y := xy(r)
		if x > 0 && y > 0 {
			pts = append(pts, plotter.XY{X: x, Y: y})
		}
	}
	slices.SortFunc(pts, func(a, b plotter.XY) int { return int(a.X - b.X) })
	return pts
}

func serverNames(results []Result) []string {
	var out []string
	for _, r := range results {
		if r.Server != "disk" && !slices.Contains(out, r.Server) {
			out = append(out, r.Server)
		}
	}
	return out
}

package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/almanac/almanac/bench"
)

// scaleCmd runs the scale benchmark (bench.RunScale): one data directory
// grown to each size in --n, measured after each step.
func scaleCmd(args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	bin := fs.String("almanac", "", "path of the almanac binary (required)")
	sizes := fs.String("n", "1000,10000,100000", "comma-separated store sizes (objects in all), ascending")
	users := fs.Int("users", 1000, "users, each with one calendar the objects are spread over")
	rounds := fs.Int("rounds", 20, "sync samples per size")
	putN := fs.Int("put-n", 200, "PUTs timed one at a time per size")
	loadN := fs.Int("load-n", 4000, "PUTs by --load-c clients per size, for the server's CPU and collections a PUT")
	loadC := fs.Int("load-c", 16, "clients of the --load-n PUTs")
	full := fs.String("full", "10000,100000,1000000", "sizes of --n at which verify, rebuild and backup are timed too (they read the whole store); \"all\": every size")
	flags := fs.String("almanac-flags", "", "extra flags for `almanac serve`, space separated (e.g. --memory-budget=268435456)")
	work := fs.String("work", "", "directory for the data (default: a new temporary one, removed at the end)")
	_ = fs.Parse(args)
	if *bin == "" {
		return fmt.Errorf("scale: --almanac is required")
	}
	ns, err := parseSizes(*sizes, *users)
	if err != nil {
		return fmt.Errorf("scale: --n (at least --users each): %w", err)
	}
	plan := bench.ScalePlan{Bin: *bin, Sizes: ns, Users: *users, Rounds: *rounds, PutN: *putN,
		LoadN: *loadN, LoadC: *loadC, Flags: strings.Fields(*flags)}
	if *full != "all" {
		if plan.Full, err = parseSizes(*full, 1); err != nil {
			return fmt.Errorf("scale: --full: %w", err)
		}
	}
	dir := *work
	if dir == "" {
		d, err := os.MkdirTemp("", "almanac-scale-")
		if err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	return bench.RunScale(context.Background(), plan, dir, emit)
}

// scaleReportCmd renders the JSON lines of a scale run (what `scale`
// prints on stdout) as the scale section of RESULTS.md, which compare
// appends after the micro-benchmarks, and its chart.
func scaleReportCmd(args []string) error {
	fs := flag.NewFlagSet("scale-report", flag.ExitOnError)
	in := fs.String("in", "", "JSON lines of a scale run (required)")
	out := fs.String("results", "bench/"+scaleResults, "where to write the Markdown section")
	chart := fs.String("chart", "bench/scale.svg", "where to write the chart")
	command := fs.String("command", "", "the command that ran the scale run, recorded in the section")
	note := fs.String("note", "", "the run's conditions (load, machine, binary) for the section")
	into := fs.String("into", "bench/RESULTS.md", "report whose scale section (from its heading to the end, where compare appends it) is replaced by the new one; empty: none")
	_ = fs.Parse(args)
	if *in == "" {
		return fmt.Errorf("scale-report: --in is required")
	}
	f, err := os.Open(*in)
	if err != nil {
		return fmt.Errorf("scale-report: %w", err)
	}
	defer f.Close()
	results, err := bench.ReadResults(f)
	if err != nil {
		return fmt.Errorf("scale-report: %w", err)
	}
	var md, svg bytes.Buffer
	if err := bench.WriteScaleMarkdown(&md, results, bench.ScaleMeta{Command: *command, Note: *note}); err != nil {
		return fmt.Errorf("scale-report: %w", err)
	}
	if err := bench.WriteScaleChart(&svg, results); err != nil {
		return fmt.Errorf("scale-report: %w", err)
	}
	if err := os.WriteFile(*out, md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("scale-report: %w", err)
	}
	if *into != "" {
		if err := replaceScaleSection(*into, md.Bytes()); err != nil {
			return fmt.Errorf("scale-report: %w", err)
		}
	}
	return os.WriteFile(*chart, svg.Bytes(), 0o644)
}

// replaceScaleSection replaces the scale section of the report at path,
// its last part (compare appends scale-results.md after everything else),
// with section: what compare would write, without rerunning the
// comparison. A report without the section gets it appended.
func replaceScaleSection(path string, section []byte) error {
	report, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if i := bytes.Index(report, []byte("\n"+bench.ScaleHeading)); i >= 0 {
		report = report[:i]
	}
	return os.WriteFile(path, append(append(report, '\n'), section...), 0o644)
}

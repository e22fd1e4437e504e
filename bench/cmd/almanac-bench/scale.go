package main

import (
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

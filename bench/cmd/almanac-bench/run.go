package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/almanac/almanac/bench"
)

// defaultPlan is what `run` does without flags: a quick look at one server.
var defaultPlan = bench.Plan{
	PutN: 1000, PutC: []int{1, 32}, PutBudget: time.Minute,
	Sizes: []int{1000}, ReadBudget: 2 * time.Minute,
	MixedC: 8, MixedTime: 20 * time.Second, Rounds: 3,
}

// runCmd runs the scenarios against one server that is already running.
// Datasets are loaded over HTTP. JSON lines go to stdout (or --out), the
// human summary to stderr.
func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var t bench.Target
	fs.StringVar(&t.Name, "name", "server", "name of the server in the results")
	fs.StringVar(&t.BaseURL, "url", "", "server base URL, e.g. http://127.0.0.1:8080 (required)")
	fs.StringVar(&t.User, "user", "", "Basic auth user")
	fs.StringVar(&t.Password, "password", "", "Basic auth password")
	fs.StringVar(&t.CalendarHome, "calendar-home", "", "path under which MKCALENDAR creates calendars, e.g. /dav/home/alice/ (required)")
	fs.StringVar(&t.AddressBook, "addressbook", "", "path of an existing address book (required)")
	fs.IntVar(&t.PID, "pid", 0, "server process id, to sample its RSS")
	loadC := fs.Int("load-c", 32, "clients that load datasets over PUT")
	out := fs.String("out", "", "append JSON lines to this file instead of stdout")
	pf := bindPlan(fs, "", defaultPlan)
	_ = fs.Parse(args)
	if t.BaseURL == "" || t.CalendarHome == "" || t.AddressBook == "" {
		return fmt.Errorf("run: --url, --calendar-home and --addressbook are required")
	}
	plan, err := pf.plan()
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	w := os.Stdout
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		defer f.Close()
		w = f
	}
	var werr error
	bench.Run(context.Background(), bench.NewClient(t, 64), bench.HTTPLoader{C: *loadC}, plan, func(r bench.Result) {
		fmt.Fprintln(os.Stderr, r.String())
		if err := r.WriteJSON(w); err != nil && werr == nil {
			werr = err
		}
	})
	return werr
}

package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/almanac/almanac/bench"
)

// reportCmd renders JSON lines (files or stdin) as a Markdown table with
// ratios against the --compare baseline.
func reportCmd(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	baseline := fs.String("compare", "radicale", "baseline server for the ratio columns")
	_ = fs.Parse(args)
	var all []bench.Result
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		f := os.Stdin
		if name != "-" {
			var err error
			if f, err = os.Open(name); err != nil {
				return fmt.Errorf("report: %w", err)
			}
		}
		rs, err := bench.ReadResults(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("report %s: %w", name, err)
		}
		all = append(all, rs...)
	}
	fmt.Print(bench.Compare(all, *baseline))
	return nil
}

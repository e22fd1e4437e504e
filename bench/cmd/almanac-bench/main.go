// Command almanac-bench drives the bench package: it runs the CalDAV and
// CardDAV scenarios against one server (run), starts Almanac, Radicale and
// Xandikos and runs the same scenarios against each in one run (compare),
// or renders a comparison table from JSON lines (report).
//
//	almanac-bench run --url http://127.0.0.1:5232 --calendar-home /bench/ --addressbook /bench/contacts/ ...
//	almanac-bench compare --almanac /tmp/almanac --results bench/RESULTS.md --chart bench/results.svg
//	almanac-bench footprint --almanac /tmp/almanac --n 1000,10000
//	almanac-bench scale --almanac /tmp/almanac --n 1000,10000,100000 > scale.jsonl
//	almanac-bench scale-report --in scale.jsonl --results bench/scale-results.md --chart bench/scale.svg
//	almanac-bench report --compare radicale results.jsonl
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(os.Args[2:])
	case "compare":
		err = compareCmd(os.Args[2:])
	case "scale":
		err = scaleCmd(os.Args[2:])
	case "scale-report":
		err = scaleReportCmd(os.Args[2:])
	case "footprint":
		err = footprintCmd(os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "almanac-bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: almanac-bench run|compare|footprint|scale|scale-report|report [flags]; -h after a subcommand lists its flags")
	os.Exit(2)
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
)

func init() {
	register(Command{
		Name:    "version",
		Usage:   "",
		Summary: "print the version, VCS revision and build time, and the Go version (also `almanac --version`)",
		Run: func(ctx context.Context, args []string) error {
			fs := flag.NewFlagSet("version", flag.ContinueOnError)
			if err := parseLayered(fs, args, os.Getenv, false); err != nil {
				return err
			}
			bi, _ := debug.ReadBuildInfo()
			printVersion(os.Stdout, bi)
			return nil
		},
	})
}

// printVersion writes the module version, the VCS revision and time the
// Go toolchain stamped into the binary (bi may be nil: "(devel)" and
// "unknown" stand for what is missing), and the Go version.
func printVersion(w io.Writer, bi *debug.BuildInfo) {
	version, revision, at, modified := "(devel)", "unknown", "unknown", ""
	goVersion := runtime.Version()
	if bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
	}
	fmt.Fprintf(w, "almanac %s\n", version)
	fmt.Fprintf(w, "revision: %s%s\n", revision, modified)
	fmt.Fprintf(w, "time:     %s\n", at)
	fmt.Fprintf(w, "go:       %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
}

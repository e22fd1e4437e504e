package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite packaging/almanac.toml from serve's flags")

// packagingDir holds the operator's files, from this package's directory.
const packagingDir = "../../packaging"

// sampleConfigHeader opens packaging/almanac.toml.
const sampleConfigHeader = `# Almanac: the settings of ` + "`almanac serve`" + `, each with its default.
#
# The systemd unit (almanac.service) reads this file as /etc/almanac/almanac.toml:
#   almanac serve --config /etc/almanac/almanac.toml --data /var/lib/almanac
# so the data directory is set there, not here. Every key is the name of a flag
# of ` + "`almanac serve`" + ` (` + "`almanac serve --help`" + `, ` + "`man almanac`" + `). Uncomment a line to
# change a setting. Precedence: flag, then environment variable, then this
# file, then the default. An unknown key or a bad value stops the server with
# a message that names it.
#
# This file is generated from the flags; after adding one, run
#   go test ./cmd/almanac -run TestPackagedConfig -update
`

// renderSampleConfig writes every flag of fs but --config as a commented
// TOML line with its default, under its usage and environment variable.
func renderSampleConfig(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString(sampleConfigHeader)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == configFlag {
			return
		}
		_, usage := flag.UnquoteUsage(f)
		b.WriteString("\n")
		for _, line := range wrap(usage+" (env "+envName(f.Name)+")", 76) {
			b.WriteString("# " + line + "\n")
		}
		fmt.Fprintf(&b, "#%s = %s\n", f.Name, tomlValue(f))
	})
	return b.String()
}

// tomlValue renders f's default as a TOML value: numbers and booleans
// bare, everything else (durations included) as a string.
func tomlValue(f *flag.Flag) string {
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case bool, int, int64, uint, uint64, float64:
			return f.DefValue
		}
	}
	return strconv.Quote(f.DefValue)
}

// wrap splits s into lines of at most width bytes at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

// serveFlags returns a FlagSet with every flag of `almanac serve`, the
// serve hooks' included.
func serveFlags(t *testing.T) *flag.FlagSet {
	t.Helper()
	fs := commandFlags(context.Background(), commands["serve"])
	if fs == nil {
		t.Fatal("serve has no FlagSet")
	}
	return fs
}

// TestPackagedConfig: packaging/almanac.toml lists every setting of serve
// with its usage, environment variable and default (it is generated from
// the flags, so it cannot go stale); serve loads it as shipped, and with
// every line uncommented every key is known and every value equals the
// flag's default.
func TestPackagedConfig(t *testing.T) {
	path := filepath.Join(packagingDir, "almanac.toml")
	want := renderSampleConfig(serveFlags(t))
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is not what serve's flags give; run go test ./cmd/almanac -run TestPackagedConfig -update and review the diff", path)
	}

	noEnv := func(string) string { return "" }
	m := NewMain()
	m.Getenv = noEnv
	if err := m.ParseFlags([]string{"--config", path}); err != nil {
		t.Errorf("serve --config %s: %v", path, err)
	}

	uncommented := regexp.MustCompile(`(?m)^#([a-z0-9-]+ = )`).ReplaceAllString(string(got), "$1")
	all := filepath.Join(t.TempDir(), "all.toml")
	if err := os.WriteFile(all, []byte(uncommented), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := serveFlags(t)
	if err := parseLayered(fs, []string{"--config", all}, noEnv, true); err != nil {
		t.Fatalf("every setting uncommented: %v", err)
	}
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == configFlag {
			return
		}
		n++
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(f.Name) + ` = `).MatchString(uncommented) {
			t.Errorf("setting %s missing", f.Name)
		}
		if f.Value.String() != f.DefValue {
			t.Errorf("%s: the file gives %q, the flag's default is %q", f.Name, f.Value.String(), f.DefValue)
		}
	})
	if keys := len(regexp.MustCompile(`(?m)^[a-z0-9-]+ = `).FindAllString(uncommented, -1)); keys != n {
		t.Errorf("%d settings in the file, serve has %d flags besides --config", keys, n)
	}
}

// TestSystemdUnits: systemd-analyze verify accepts every unit in
// packaging/ without a warning (with ExecStart's /usr/bin/almanac pointed
// at this test binary, since verify wants the program to exist), and rates
// almanac.service's exposure at most 2.0 of 10 (CI installs systemd).
func TestSystemdUnits(t *testing.T) {
	sa := requireBinary(t, "systemd-analyze", "systemd")
	units, err := filepath.Glob(filepath.Join(packagingDir, "*.service"))
	if err != nil {
		t.Fatal(err)
	}
	timers, _ := filepath.Glob(filepath.Join(packagingDir, "*.timer"))
	units = append(units, timers...)
	if len(units) == 0 {
		t.Fatal("no units in packaging/")
	}
	dir := t.TempDir()
	var copies []string
	for _, u := range units {
		data, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		data = []byte(strings.ReplaceAll(string(data), "/usr/bin/almanac", os.Args[0]))
		c := filepath.Join(dir, filepath.Base(u))
		if err := os.WriteFile(c, data, 0o644); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, c)
	}
	out, err := exec.Command(sa, append([]string{"verify", "--man=no"}, copies...)...).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", strings.Join(units, " "), err, out)
	}
	out, err = exec.Command(sa, "security", "--offline=true", "--threshold=20", "--no-pager", filepath.Join(dir, "almanac.service")).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security almanac.service: exposure over 2.0 (%v):\n%s", err, out)
	}
}

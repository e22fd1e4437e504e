package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// manPage renders the manual page with a stamped build.
func manPage(t *testing.T) string {
	t.Helper()
	var out bytes.Buffer
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{{Key: "vcs.time", Value: "2026-12-04T20:00:00Z"}}}
	if err := writeMan(context.Background(), &out, bi); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestManPage: `almanac man` has the sections of a section-1 page, and
// under COMMANDS every registered command with every one of its flags,
// each with its environment variable, its TOML key where the command
// reads a --config file, and its default: the page is generated from the
// same FlagSets as --help, so a new command or flag cannot be missing.
func TestManPage(t *testing.T) {
	page := manPage(t)
	if !strings.HasPrefix(page, `.TH "ALMANAC" "1" "2026\-12\-04" "almanac v1.2.3" "Almanac Manual"`+"\n") {
		t.Errorf("title line: %q", strings.SplitN(page, "\n", 2)[0])
	}
	var sections []string
	for _, line := range strings.Split(page, "\n") {
		if s, ok := strings.CutPrefix(line, ".SH "); ok {
			sections = append(sections, s)
		}
	}
	want := `"NAME" "SYNOPSIS" "DESCRIPTION" "COMMANDS" "ENVIRONMENT" "FILES" "SIGNALS" "EXIT STATUS" "SEE ALSO"`
	if got := strings.Join(sections, " "); got != want {
		t.Errorf("sections %s, want %s", got, want)
	}
	// Each command's part runs from its .SS line to the next.
	parts := strings.Split(page[strings.Index(page, `.SH "COMMANDS"`):strings.Index(page, `.SH "ENVIRONMENT"`)], ".SS ")[1:]
	byName := map[string]string{}
	for _, p := range parts {
		name := strings.Fields(strings.TrimPrefix(p, `"almanac `))[0]
		byName[strings.TrimSuffix(name, `"`)] = p
	}
	ctx := context.Background()
	for _, c := range sortedCommands() {
		part, ok := byName[c.Name]
		if !ok {
			t.Errorf("command %s missing from COMMANDS", c.Name)
			continue
		}
		if !strings.Contains(part, roffEscape(c.Summary)) {
			t.Errorf("%s: summary missing", c.Name)
		}
		fs := commandFlags(ctx, c)
		if fs == nil {
			continue
		}
		toml := fs.Lookup(configFlag) != nil
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(part, `\-\-`+roffEscape(f.Name)+"\n") && !strings.Contains(part, `\-\-`+roffEscape(f.Name)+` "`) {
				t.Errorf("%s: flag --%s missing", c.Name, f.Name)
			}
			where := "Environment: " + roffEscape(envName(f.Name))
			if toml && f.Name != configFlag {
				where += "; TOML key: " + roffEscape(f.Name)
			}
			if hasDefault(f) {
				where += "; default: " + breakable(roffEscape(f.DefValue))
			}
			if !strings.Contains(part, where+".\n") {
				t.Errorf("%s: --%s lacks %q", c.Name, f.Name, where)
			}
		})
	}
	if len(byName) != len(commands) {
		t.Errorf("%d commands in the page, %d registered", len(byName), len(commands))
	}
	for _, s := range []string{"SIGHUP", "SIGTERM", `/etc/almanac/almanac.toml`} {
		if !strings.Contains(page, roffEscape(s)) {
			t.Errorf("page does not mention %s", s)
		}
	}
}

// TestManEnvironment: every ALMANAC_ variable the command's sources read
// is either a flag's (listed with the flag) or in the ENVIRONMENT section.
func TestManEnvironment(t *testing.T) {
	flagEnv := map[string]bool{}
	for _, c := range sortedCommands() {
		if fs := commandFlags(context.Background(), c); fs != nil {
			fs.VisitAll(func(f *flag.Flag) { flagEnv[envName(f.Name)] = true })
		}
	}
	documented := map[string]bool{}
	for _, e := range extraEnv {
		documented[e.tag] = true
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"(ALMANAC_[A-Z0-9_]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			if !flagEnv[m[1]] && !documented[m[1]] {
				t.Errorf("%s reads %s, which is no flag's variable and not in man.go's extraEnv", f, m[1])
			}
		}
	}
	page := manPage(t)
	for _, e := range extraEnv {
		if !strings.Contains(page, ".B "+roffEscape(e.tag)+"\n") {
			t.Errorf("ENVIRONMENT lacks %s", e.tag)
		}
	}
}

// TestManRenders: groff formats the page with every warning on and prints
// none (CI installs groff-base).
func TestManRenders(t *testing.T) {
	groff := requireBinary(t, "groff", "groff-base")
	cmd := exec.Command(groff, "-man", "-ww", "-z", "-Tutf8")
	cmd.Stdin = strings.NewReader(manPage(t))
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}
}

// TestRoffEscape: text cannot start a request, end a macro argument or
// carry raw bytes troff reads as Latin-1.
func TestRoffEscape(t *testing.T) {
	var out bytes.Buffer
	m := &manWriter{w: &out}
	m.text(".TH not a request\n'also not\nback\\slash \"quoted\" 2 × 3 --flag")
	m.macro("SS", `say "hi"`)
	got := out.String()
	want := `\&.TH not a request` + "\n" + `\&'also not` + "\n" + `back\eslash \(dqquoted\(dq 2 \[u00D7] 3 \-\-flag` + "\n" + `.SS "say \(dqhi\(dq"` + "\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"unicode"
)

func init() {
	register(Command{
		Name:    "man",
		Usage:   "",
		Summary: "print the manual page (roff, section 1) built from every command's flags: almanac man > almanac.1",
		Run: func(ctx context.Context, args []string) error {
			fs := flag.NewFlagSet("man", flag.ContinueOnError)
			if err := parseLayered(fs, args, os.Getenv, false); err != nil {
				return err
			}
			bi, _ := debug.ReadBuildInfo()
			return writeMan(ctx, os.Stdout, bi)
		},
	})
}

// extraEnv are the environment variables read other than as a flag's
// ALMANAC_<NAME>; the manual's ENVIRONMENT section lists them. A test
// scans the sources for ALMANAC_ names missing here.
var extraEnv = []manItem{
	{adminPasswordEnv, "the password of the admin account serve creates when it starts on a log that never held an account (otherwise it generates one and prints it once)"},
	{"ALMANAC_PASSWORD", "the password of --user for the commands that talk to a running server (--server) and for tail; without it they prompt on the terminal"},
	{"ALMANAC_SMTP_PASSWORD", "the password of --smtp-url's user, unless --smtp-password-file names a file holding it"},
	{"GOGC", "Go's garbage collector percent; wins over serve's --gc-percent when set"},
	{"GOMEMLIMIT", "Go's soft memory limit; wins over the share of --memory-budget (serve's, and rebuild's, verify's, backup's and import's) it would get when set"},
	{"GOMAXPROCS", "the number of threads running Go code at once; the defaults of --max-concurrent-queries and --login-max-concurrent-hashes follow it"},
}

// commandFlags returns the FlagSet of c, which c's Run hands back (in a
// *flagError) for -h before it touches anything; nil for a command without
// flags.
func commandFlags(ctx context.Context, c Command) *flag.FlagSet {
	var fe *flagError
	if errors.As(c.Run(ctx, []string{"-h"}), &fe) {
		return fe.fs
	}
	return nil
}

// hasDefault reports whether f's default is worth printing: not the zero
// value of its type.
func hasDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "0", "false", "[]":
		return false
	}
	return true
}

// writeMan writes the manual page of every registered command in roff
// (man(7) macros, section 1). bi stamps the version and date; it may be nil.
func writeMan(ctx context.Context, w io.Writer, bi *debug.BuildInfo) error {
	version, date := "(devel)", ""
	if bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" && len(s.Value) >= len("2006-01-02") {
				date = s.Value[:len("2006-01-02")]
			}
		}
	}
	m := &manWriter{w: w}
	m.macro("TH", "ALMANAC", "1", date, "almanac "+version, "Almanac Manual")
	m.raw(".nh")   // no hyphenation: flags and variables stay whole
	m.raw(".ad l") // ragged right
	m.macro("SH", "NAME")
	m.text("almanac - event-sourced CalDAV and CardDAV server")
	m.macro("SH", "SYNOPSIS")
	m.raw(`.B almanac`)
	m.raw(`.I command`)
	m.raw(`.RI [ flags ]\ [ arguments ]`)
	m.raw(`.br`)
	m.raw(`.B almanac \-\-version`)
	m.raw(`.br`)
	m.raw(`.B almanac help`)
	m.raw(`.RI [ command ]`)
	m.macro("SH", "DESCRIPTION")
	m.text("Almanac serves calendars (CalDAV, RFC 4791) and address books (CardDAV, RFC 6352). " +
		"Every change is an event in an append-only log kept in the data directory; what clients read is " +
		"a projection of that log, so every change of every object has a history that can be listed, " +
		"restored and exported, and changes stream out over gRPC and NATS JetStream.")
	m.macro("PP")
	m.text("Every flag of a command can also be set as the environment variable ALMANAC_<NAME> " +
		"(upper case, - becomes _) or, with --config FILE, as the key <name> of a TOML file. " +
		"Precedence: flag, then environment, then TOML file, then the default. " +
		"Unknown keys in serve's TOML file and bad values are errors that name the setting and where it came from.")
	m.macro("PP")
	m.text("almanac help COMMAND, almanac COMMAND --help and -h print a command's synopsis and flags and exit 0.")

	m.macro("SH", "COMMANDS")
	for _, c := range sortedCommands() {
		if err := ctx.Err(); err != nil {
			return err
		}
		m.macro("SS", strings.TrimSpace("almanac "+c.Name+" "+c.Usage))
		m.text(c.Summary)
		fs := commandFlags(ctx, c)
		if fs == nil {
			continue
		}
		toml := fs.Lookup(configFlag) != nil
		fs.VisitAll(func(f *flag.Flag) { m.flag(f, toml) })
	}

	m.macro("SH", "ENVIRONMENT")
	m.macro("TP")
	m.raw(`.BI ALMANAC_ NAME`)
	m.text("the value of the flag --name of the command being run (see COMMANDS), e.g. ALMANAC_LISTEN for serve's --listen.")
	m.items("B", extraEnv)

	m.macro("SH", "FILES")
	m.items("I", []manItem{
		{"/etc/almanac/almanac.toml", "the configuration file the systemd unit passes to serve with --config; the sample packaging/almanac.toml lists every setting with its default"},
		{"/var/lib/almanac", "the data directory of the systemd unit (--data; default ./data)"},
		{"DATA/db", "the database: the event log and its projections, locked while a server uses it"},
		{"DATA/nats", "the embedded NATS server's JetStream store (serve --nats=on without --nats-url)"},
		{"DATA/server.json", "written by a running serve: the URL at which user, token and the other admin commands reach it while it holds the data directory"},
		{"/etc/systemd/system/almanac.service", "the systemd unit, installed from packaging/almanac.service (systemctl reload almanac sends SIGHUP)"},
	})

	m.macro("SH", "SIGNALS")
	m.items("B", []manItem{
		{"SIGINT, SIGTERM", "serve stops accepting connections, lets requests in flight finish (up to --shutdown-timeout), stops the change feed, closes the database and exits 0."},
		{"SIGHUP", "serve reloads the TLS certificate and key (--tls-cert, --tls-key) and rereads the htpasswd and htgroup files (--htpasswd, --htgroup) at once, and logs what it reloaded; " +
			"a file that fails to load keeps the old one. Without SIGHUP both are checked for changes anyway (the certificate every 10 seconds, the htpasswd file at each login, the htgroup file every 2 seconds)."},
	})

	m.macro("SH", "EXIT STATUS")
	m.items("B", []manItem{
		{"0", "success, and --help, -h, help and --version"},
		{"1", "the command failed (healthcheck: the server is not healthy); the reason is on standard error"},
		{"2", "a usage error: an unknown command or flag, a missing argument; the usage is on standard error"},
	})

	m.macro("SH", "SEE ALSO")
	m.raw(`.BR htpasswd (1),`)
	m.raw(`.BR systemd.exec (5),`)
	m.raw(`.BR vdirsyncer (1),`)
	m.raw(`.BR radicale (1)`)
	m.macro("PP")
	m.text("README.md in the source tree: client setup, configuration, running as a service, backup, migration from Radicale.")
	return m.err
}

// manItem is an entry of a list of tagged paragraphs: a variable, a file,
// a signal, an exit status.
type manItem struct{ tag, what string }

// items writes each item as a tagged paragraph, the tag in font (B: bold,
// I: italic).
func (m *manWriter) items(font string, items []manItem) {
	for _, it := range items {
		m.macro("TP")
		m.raw("." + font + " " + roffEscape(it.tag))
		m.text(it.what)
	}
}

// manWriter writes roff lines, keeping the first write error.
type manWriter struct {
	w   io.Writer
	err error
}

// raw writes one line of roff as it is.
func (m *manWriter) raw(line string) {
	if m.err == nil {
		_, m.err = io.WriteString(m.w, line+"\n")
	}
}

// macro writes a request with its arguments, each quoted and escaped.
func (m *manWriter) macro(name string, args ...string) {
	line := "." + name
	for _, a := range args {
		line += ` "` + roffEscape(a) + `"`
	}
	m.raw(line)
}

// text writes s as filled text, escaped so that no line starts a request.
func (m *manWriter) text(s string) {
	for _, line := range strings.Split(s, "\n") {
		line = roffEscape(line)
		if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
			line = `\&` + line
		}
		m.raw(line)
	}
}

// flag writes one flag as a tagged paragraph: its name and argument, its
// usage, then its environment variable, TOML key (when the command reads a
// --config file) and default.
func (m *manWriter) flag(f *flag.Flag, toml bool) {
	arg, usage := flag.UnquoteUsage(f)
	m.macro("TP")
	if arg == "" {
		m.raw(`.B \-\-` + roffEscape(f.Name))
	} else {
		m.raw(`.BI \-\-` + roffEscape(f.Name) + ` " ` + roffEscape(arg) + `"`)
	}
	m.text(usage)
	m.raw(".br")
	where := "Environment: " + envName(f.Name)
	if toml && f.Name != configFlag {
		where += "; TOML key: " + f.Name
	}
	line := roffEscape(where)
	if hasDefault(f) {
		line += "; default: " + breakable(roffEscape(f.DefValue))
	}
	m.raw(line + ".") // begins with "Environment", never a request
}

// breakable lets troff break a long escaped value (an LDAP filter, a list)
// after its closing parentheses and commas: \: is a break point that prints
// nothing, where troff would otherwise warn that it cannot break the line.
func breakable(s string) string {
	return strings.NewReplacer(")", `)\:`, ",", `,\:`).Replace(s)
}

// roffEscape escapes s for roff text and macro arguments: a backslash is
// the escape character, a hyphen-minus must stay one (for copying flags), a
// double quote would end a macro argument, and troff reads its input as
// Latin-1, so every other rune is named by its code point.
func roffEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-':
			b.WriteString(`\-`)
		case r == '"':
			b.WriteString(`\(dq`)
		case r > unicode.MaxASCII:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

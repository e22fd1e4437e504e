// Command almanac is the Almanac CalDAV/CardDAV server and its
// administration tool. Subcommands register themselves in registry.go's
// registry from their own files; `almanac help` lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

// errUsage marks a command-line mistake: main prints the command's usage and
// exits with status 2.
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	name := args[0]
	if name == "--version" || name == "-version" || (name == "version" && len(args) == 1) {
		bi, _ := debug.ReadBuildInfo()
		printVersion(stdout, bi)
		return 0
	}
	if name == "help" || isHelpArg(name) {
		if len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(stderr, "almanac: unknown command %q\n\n", args[1])
				printUsage(stderr)
				return 2
			}
			// The command's own -h lists its flags; commands parse
			// flags before they touch anything.
			printCommandUsage(stdout, c, c.Run(ctx, []string{"-h"}))
			return 0
		}
		printUsage(stdout)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "almanac: unknown command %q\n\n", name)
		printUsage(stderr)
		return 2
	}
	err := c.Run(ctx, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		printCommandUsage(stdout, c, err)
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "almanac %s: %v\n", c.Name, err)
		printCommandUsage(stderr, c, err)
		return 2
	default:
		fmt.Fprintf(stderr, "almanac %s: %v\n", c.Name, err)
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: almanac <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range sortedCommands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintln(w, "  help       show this list, or `almanac help <command>` for one command")
}

// printCommandUsage prints c's synopsis and summary and, when err carries
// the command's FlagSet (a *flagError), every flag with its default and
// environment variable.
func printCommandUsage(w io.Writer, c Command, err error) {
	fmt.Fprintln(w, strings.TrimSpace("usage: almanac "+c.Name+" "+c.Usage))
	if c.Summary != "" {
		fmt.Fprintf(w, "\n%s\n", c.Summary)
	}
	var fe *flagError
	if !errors.As(err, &fe) {
		return
	}
	n := 0
	fe.fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nflags (each also read from its environment variable; with --config, from the TOML key of its name):")
	fe.fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s", f.Name)
		if arg != "" {
			fmt.Fprintf(w, " %s", arg)
		}
		fmt.Fprintf(w, "\n      %s\n      [env %s", usage, envName(f.Name))
		if hasDefault(f) {
			fmt.Fprintf(w, ", default %s", f.DefValue)
		}
		fmt.Fprintln(w, "]")
	})
}

// isHelpArg reports whether a is one of the spellings of a help request.
func isHelpArg(a string) bool {
	return a == "-h" || a == "--help" || a == "-help"
}

// flagError is a flag parsing error, or flag.ErrHelp, with the FlagSet it
// came from, so that run can list the command's flags.
type flagError struct {
	fs  *flag.FlagSet
	err error
}

// Error returns the parsing error's message.
func (e *flagError) Error() string { return e.err.Error() }

// Unwrap returns the parsing error (flag.ErrHelp, or one wrapping errUsage).
func (e *flagError) Unwrap() error { return e.err }

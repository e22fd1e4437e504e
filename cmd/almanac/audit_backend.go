package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"runtime/debug"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
)

// auditFlags are the flags every audit command shares: --server URL --user
// ADMIN for a running server, or --data DIR for a stopped one.
type auditFlags struct {
	server, user, data string
	// memory is --memory-budget of the commands that replay the log
	// (offlineReplay); 0 for the others: the engine's defaults.
	memory int64
}

// offlineReplay names the audit commands that replay the whole log on a
// stopped server's data directory, and so take --memory-budget.
var offlineReplay = map[string]bool{"rebuild": true, "verify": true, "import": true, "backup": true}

func (f *auditFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.server, "server", "", "base `URL` of a running server (talks to its admin API)")
	fs.StringVar(&f.user, "user", "admin", "admin `name` for --server (password from ALMANAC_PASSWORD or a prompt)")
	fs.StringVar(&f.data, "data", "./data", "data `directory` of a stopped server")
	fs.String(configFlag, "", "TOML `file` of the server, for its data setting")
}

// auditEnv is what an audit command runs with.
type auditEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func defaultAuditEnv() *auditEnv {
	return &auditEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
}

// open returns the backend the flags select and a func to release it.
func (f *auditFlags) open(env *auditEnv, what string) (_ audit.Backend, _ func(), err error) {
	if f.server != "" {
		pw := env.getenv("ALMANAC_PASSWORD")
		if pw == "" {
			if pw, err = promptPassword(env, f.user); err != nil {
				return nil, nil, err
			}
		}
		return &audit.Client{Server: f.server, User: f.user, Password: pw}, func() {}, nil
	}
	// Warnings and errors (a damaged file met while reading) go to stderr;
	// `rebuild` rebuilds as it opens, before anything reads the old
	// projections (see engine.Options.Rebuild).
	restore := func() {}
	eopts := &engine.Options{
		Logger:  slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Rebuild: what == "rebuild",
	}
	if f.memory != 0 {
		if err := validateMemoryBudget(f.memory); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", errUsage, err)
		}
		// The Go soft limit is the process's: set for the command's
		// run, restored after it (holdMemoryLimit).
		split := splitOfflineMemoryBudget
		if what == "import" {
			split = splitMemoryBudget
		}
		release := holdMemoryLimit(func() { split(f.memory, pebbleInGoHeap).apply(eopts, env.getenv) })
		defer func() {
			if err != nil {
				release()
			}
		}()
		eopts.ReplayMemory = offlineReplayMemory(f.memory)
		restore = release
	}
	db, err := openDB(f.data, eopts)
	if err != nil {
		return nil, nil, err
	}
	m := engine.Meta{Actor: operator(), UserAgent: "almanac-cli", RequestID: cliMeta(what).RequestID}
	return &audit.Local{DB: db, Meta: m}, func() { db.Close(); restore() }, nil
}

// processLimit is the Go runtime's soft memory limit as the offline
// commands running in this process found it. The tests run commands in
// parallel in one process: had each saved the limit it found and put it
// back, one finishing after another had set its own would leave that
// one's limit behind (TestMain checks). The first command to hold the
// limit saves it, the last to let go restores it.
var processLimit struct {
	sync.Mutex
	holders int
	saved   int64
}

// holdMemoryLimit runs set, which may change the soft memory limit, and
// returns the func that lets go of it (safe to call more than once).
func holdMemoryLimit(set func()) (release func()) {
	processLimit.Lock()
	defer processLimit.Unlock()
	if processLimit.holders == 0 {
		processLimit.saved = debug.SetMemoryLimit(-1)
	}
	processLimit.holders++
	set()
	var once sync.Once
	return func() {
		once.Do(func() {
			processLimit.Lock()
			defer processLimit.Unlock()
			if processLimit.holders--; processLimit.holders == 0 {
				debug.SetMemoryLimit(processLimit.saved)
			}
		})
	}
}

// operator names the person running the CLI on a data directory.
func operator() string {
	if u, err := user.Current(); err == nil {
		return "operator:" + u.Username
	}
	return "operator"
}

func promptPassword(env *auditEnv, name string) (string, error) {
	if f, ok := env.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(env.stderr, "Password for %s: ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(env.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	if line = strings.TrimRight(line, "\r\n"); line == "" {
		return "", errors.New("no password: set ALMANAC_PASSWORD or type it")
	}
	return line, nil
}

// runAudit parses flags, checks the count of positional arguments (unless
// npos is negative), opens the backend and runs fn.
func runAudit(ctx context.Context, env *auditEnv, name string, args []string, npos int, extra func(*flag.FlagSet),
	fn func(ctx context.Context, b audit.Backend, pos []string) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var f auditFlags
	f.register(fs)
	if offlineReplay[name] {
		addOfflineMemoryBudgetFlag(fs, &f.memory)
	}
	if extra != nil {
		extra(fs)
	}
	pos, err := parseInterspersed(fs, args, env.getenv)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
			err = fmt.Errorf("%w: %w", errUsage, err) // a bad value in --config
		}
		return err
	}
	if npos >= 0 && len(pos) != npos { // npos < 0: fn checks
		return fmt.Errorf("%w: want %d argument(s), got %d", errUsage, npos, len(pos))
	}
	b, release, err := f.open(env, name)
	if err != nil {
		return err
	}
	defer release()
	return fn(ctx, b, pos)
}

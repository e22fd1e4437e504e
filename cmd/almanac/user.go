package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/feed"
)

func init() {
	register(Command{
		Name: "user",
		Usage: "add NAME [--admin] [--email ADDR]... | passwd NAME | list | delete NAME | disable NAME | enable NAME | " +
			"email add|remove NAME ADDR... | app-password add|list|revoke ...   [--data DIR | --server URL] [--as ADMIN]",
		Summary: "manage user accounts (the new password is read from stdin, or prompted for on a terminal); " +
			"while a server runs on --data, through its admin API",
		Run: func(ctx context.Context, args []string) error {
			return (&userCLI{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}).run(ctx, args)
		},
	})
}

// userCLI is `almanac user` and `almanac token`. Its fields are the
// process's streams outside tests.
type userCLI struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	lines *bufio.Reader // stdin read line by line, made on first use
}

// userSubcommands maps each subcommand of `user` to its count of
// arguments.
var userSubcommands = map[string]int{"add": 1, "passwd": 1, "delete": 1, "list": 0, "disable": 1, "enable": 1, "email": -1}

func (c *userCLI) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing subcommand (add, passwd, list, delete, disable, enable, email)", errUsage)
	}
	sub, args := args[0], args[1:]
	if sub == "app-password" {
		return c.runAppPassword(ctx, args)
	}
	if isHelpArg(sub) {
		// `user --help` lists the flags of every subcommand (add's are a
		// superset).
		sub, args = "add", []string{"-h"}
	}
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	var af accountFlags
	af.register(fs)
	admin := false
	var emails stringList
	if sub == "add" {
		fs.BoolVar(&admin, "admin", false, "give the user the admin role (add only)")
		fs.Var(&emails, "email", "an email `address` of the user, their calendar user address for scheduling (add only; repeatable)")
	}
	pos, err := parseInterspersed(fs, args, c.getenv)
	if err != nil {
		return err
	}
	n, ok := userSubcommands[sub]
	if !ok {
		return fmt.Errorf("%w: unknown subcommand %q (add, passwd, list, delete, disable, enable, email)", errUsage, sub)
	}
	if n < 0 {
		if len(pos) < 3 || (pos[0] != "add" && pos[0] != "remove") {
			return fmt.Errorf("%w: user email takes add or remove, a user name and one or more addresses", errUsage)
		}
	} else if len(pos) != n {
		return fmt.Errorf("%w: user %s takes %d argument(s), got %d", errUsage, sub, n, len(pos))
	}
	acc, release, err := c.openAccounts(af, "user "+sub)
	if err != nil {
		return err
	}
	defer release()
	if sub == "list" {
		return c.list(ctx, acc)
	}
	name := pos[0]
	var done string
	switch sub {
	case "email":
		name = pos[1]
		if pos[0] == "add" {
			err = acc.SetEmails(ctx, name, pos[2:], nil)
			done = fmt.Sprintf("added %s to the addresses of %s", strings.Join(pos[2:], ", "), name)
		} else {
			err = acc.SetEmails(ctx, name, nil, pos[2:])
			done = fmt.Sprintf("removed %s from the addresses of %s", strings.Join(pos[2:], ", "), name)
		}
	case "add", "passwd":
		if sub == "passwd" {
			// Refused before the prompt (and the hash), by the data
			// directory or by the server (a request of its own); a
			// server refuses before its hash too (Local.SetPassword).
			if err = acc.CanSetPassword(ctx, name); err != nil {
				break
			}
		}
		pw, perr := c.readPassword(name)
		if perr != nil {
			return perr
		}
		if sub == "add" {
			err = acc.AddUser(ctx, name, pw, admin, emails...)
			role := engine.RoleUser
			if admin {
				role = engine.RoleAdmin
			}
			done = fmt.Sprintf("added user %s (%s)", name, role)
		} else {
			err = acc.SetPassword(ctx, name, pw)
			done = "changed the password of " + name
		}
	case "delete":
		err = acc.DeleteUser(ctx, name)
		done = fmt.Sprintf("deleted user %s (the data in /dav/home/%s/ stays)", name, name)
	case "disable", "enable":
		err = acc.SetDisabled(ctx, name, sub == "disable")
		done = sub + "d user " + name
		if sub == "disable" {
			done += " (they cannot sign in; their data and tokens stay)"
		}
	}
	switch {
	case errors.Is(err, engine.ErrNotFound) && sub != "email":
		return fmt.Errorf("no user %q", name)
	case errors.Is(err, engine.ErrConflict) && sub == "add":
		return fmt.Errorf("user %q exists; use `almanac user passwd %s` to change the password", name, name)
	case err != nil:
		return fmt.Errorf("%s %q: %w", sub, name, err)
	}
	fmt.Fprintln(c.stdout, done)
	return nil
}

// accountFlags are the flags of `user` and `token`: the data directory,
// or a running server and the admin to sign in as.
type accountFlags struct {
	data, server, as string
}

func (f *accountFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", defaultDataDir, "data `directory` of the server; while a server runs on it, its admin API is used (DIR/server.json says where)")
	fs.String(configFlag, "", "TOML `file` of the server, for its data setting")
	fs.StringVar(&f.server, "server", "", "base `URL` of a running server to manage through its admin API instead of --data")
	fs.StringVar(&f.as, "as", "admin", "admin `name` to sign in to a running server as (password from ALMANAC_PASSWORD, else a prompt or stdin's first line)")
}

// openAccounts returns the accounts of --server, else of the data
// directory: opened directly when no server holds it, else through the
// admin API of the server that does.
func (c *userCLI) openAccounts(f accountFlags, what string) (audit.Accounts, func(), error) {
	var info *serverInfo
	if f.server != "" {
		info = &serverInfo{URL: f.server}
	} else {
		db, err := openDB(f.data, nil)
		if err == nil {
			l := &audit.Local{DB: db, Meta: cliMeta(what), NewToken: feed.NewToken}
			l.Meta.Actor = operator()
			return l, func() { db.Close() }, nil
		}
		if !errors.Is(err, errDataDirInUse) {
			return nil, nil, err
		}
		info, err = readServerInfo(f.data)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (%s): no %s says where it listens (%v): give --server URL",
				errDataDirInUse, f.data, serverInfoFile, err)
		}
		fmt.Fprintf(c.stderr, "a server runs on %s: using its admin API at %s as %s\n", f.data, info.URL, f.as)
	}
	pw := c.getenv("ALMANAC_PASSWORD")
	if pw == "" {
		var err error
		if pw, err = c.readLine(fmt.Sprintf("Password of %s at %s: ", f.as, info.URL)); err != nil {
			return nil, nil, err
		}
	}
	return &audit.Client{Server: info.URL, User: f.as, Password: pw, HTTP: info.httpClient()}, func() {}, nil
}

// parseInterspersed parses flags that may come before or after the
// positional arguments ("user add alice --admin") and layers env and TOML
// under them, returning the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string, getenv func(string) string) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if f := fs.Lookup(name); f != nil && !strings.Contains(name, "=") && !isBoolFlag(f) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	if err := parseLayered(fs, flags, getenv, false); err != nil {
		return nil, err
	}
	return pos, nil
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// cliMeta is the engine Meta of changes made with the CLI.
func cliMeta(what string) engine.Meta {
	id := make([]byte, 8)
	rand.Read(id)
	return engine.Meta{Actor: "almanac-cli", UserAgent: "almanac " + what, RequestID: fmt.Sprintf("cli-%x", id)}
}

func (c *userCLI) list(ctx context.Context, acc audit.Accounts) error {
	users, err := acc.Users(ctx)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	for _, u := range users {
		line := u.Name + "\t" + u.Role
		if u.Disabled {
			line += "\tdisabled"
		}
		if len(u.Emails) > 0 {
			line += "\t" + strings.Join(u.Emails, ",")
		}
		fmt.Fprintln(c.stdout, line)
	}
	return nil
}

// readPassword reads a new password for name: prompted twice without echo
// on a terminal, else the next line of stdin.
func (c *userCLI) readPassword(name string) (string, error) {
	f, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		pw, err := c.readLine("")
		if err != nil {
			return "", err
		}
		if pw == "" {
			return "", errors.New("empty password")
		}
		return pw, nil
	}
	fmt.Fprintf(c.stderr, "Password for %s: ", name)
	a, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(c.stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	fmt.Fprint(c.stderr, "Again: ")
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(c.stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if string(a) != string(b) {
		return "", errors.New("the passwords differ")
	}
	if len(a) == 0 {
		return "", errors.New("empty password")
	}
	return string(a), nil
}

// readLine reads one secret: on a terminal, prompted with prompt and
// without echo; else the next line of stdin (so that stdin can carry the
// admin's password, then the new one).
func (c *userCLI) readLine(prompt string) (string, error) {
	if f, ok := c.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) && prompt != "" {
		fmt.Fprint(c.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	if c.lines == nil {
		c.lines = bufio.NewReader(c.stdin)
	}
	line, err := c.lines.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("read password: stdin ended (set ALMANAC_PASSWORD for the admin's)")
		}
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

// Set appends one value.
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

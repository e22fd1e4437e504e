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

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
)

func init() {
	register(Command{
		Name:  "user",
		Usage: "add NAME [--admin] | passwd NAME | list | delete NAME   [--data DIR] [--config FILE]",
		Summary: "manage user accounts (the password is read from stdin, or prompted for on a terminal); " +
			"run while the server is stopped",
		Run: func(ctx context.Context, args []string) error {
			return (&userCLI{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}).run(ctx, args)
		},
	})
}

// userCLI is `almanac user`. Its fields are the process's streams outside
// tests.
type userCLI struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func (c *userCLI) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing subcommand (add, passwd, list, delete)", errUsage)
	}
	sub, args := args[0], args[1:]
	if isHelpArg(sub) {
		// `user --help` lists the flags of every subcommand (add's are a
		// superset).
		sub, args = "add", []string{"-h"}
	}
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	dataDir := fs.String("data", "./data", "data `directory` of the server")
	fs.String(configFlag, "", "TOML `file` of the server, for its data setting")
	admin := false
	if sub == "add" {
		fs.BoolVar(&admin, "admin", false, "give the user the admin role (add only)")
	}
	pos, err := parseInterspersed(fs, args, c.getenv)
	if err != nil {
		return err
	}
	want := map[string]int{"add": 1, "passwd": 1, "delete": 1, "list": 0}
	n, ok := want[sub]
	if !ok {
		return fmt.Errorf("%w: unknown subcommand %q (add, passwd, list, delete)", errUsage, sub)
	}
	if len(pos) != n {
		return fmt.Errorf("%w: user %s takes %d argument(s), got %d", errUsage, sub, n, len(pos))
	}
	db, err := openDB(*dataDir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "add":
		return c.add(ctx, db, pos[0], admin)
	case "passwd":
		return c.passwd(ctx, db, pos[0])
	case "delete":
		return c.remove(ctx, db, pos[0])
	default:
		return c.list(db)
	}
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

func (c *userCLI) add(ctx context.Context, db *engine.DB, name string, admin bool) error {
	if _, err := db.User(name); err == nil {
		return fmt.Errorf("user %q exists; use `almanac user passwd %s` to change the password", name, name)
	} else if !errors.Is(err, engine.ErrNotFound) {
		return fmt.Errorf("look up user %q: %w", name, err)
	}
	hash, err := c.newPasswordHash(name)
	if err != nil {
		return err
	}
	role := engine.RoleUser
	if admin {
		role = engine.RoleAdmin
	}
	if err := db.PutUser(ctx, cliMeta("user add"), engine.User{Name: name, PasswordHash: hash, Role: role}); err != nil {
		return fmt.Errorf("add user %q: %w", name, err)
	}
	fmt.Fprintf(c.stdout, "added user %s (%s)\n", name, role)
	return nil
}

func (c *userCLI) passwd(ctx context.Context, db *engine.DB, name string) error {
	u, err := db.User(name)
	if errors.Is(err, engine.ErrNotFound) {
		return fmt.Errorf("no user %q", name)
	} else if err != nil {
		return fmt.Errorf("look up user %q: %w", name, err)
	}
	hash, err := c.newPasswordHash(name)
	if err != nil {
		return err
	}
	u.PasswordHash = hash
	if err := db.PutUser(ctx, cliMeta("user passwd"), *u); err != nil {
		return fmt.Errorf("change password of %q: %w", name, err)
	}
	fmt.Fprintf(c.stdout, "changed the password of %s\n", name)
	return nil
}

func (c *userCLI) remove(ctx context.Context, db *engine.DB, name string) error {
	err := db.DeleteUser(ctx, cliMeta("user delete"), name)
	if errors.Is(err, engine.ErrNotFound) {
		return fmt.Errorf("no user %q", name)
	} else if err != nil {
		return fmt.Errorf("delete user %q: %w", name, err)
	}
	fmt.Fprintf(c.stdout, "deleted user %s (the data in /dav/home/%s/ stays)\n", name, name)
	return nil
}

func (c *userCLI) list(db *engine.DB) error {
	v, err := db.View()
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	defer v.Close()
	users, err := v.Users()
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	for _, u := range users {
		fmt.Fprintf(c.stdout, "%s\t%s\n", u.Name, u.Role)
	}
	return nil
}

// newPasswordHash reads a new password — prompted twice without echo on a
// terminal, else the first line of stdin — and returns its bcrypt hash.
func (c *userCLI) newPasswordHash(name string) (string, error) {
	pw, err := c.readPassword(name)
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("empty password")
	}
	return auth.HashPassword(pw)
}

func (c *userCLI) readPassword(name string) (string, error) {
	if f, ok := c.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
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
		return string(a), nil
	}
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/feed"
)

func init() {
	register(Command{
		Name:  "token",
		Usage: "create --user U [--label L] | list [--user U] | revoke --user U ID   [--data DIR]",
		Summary: "manage API tokens for the gRPC change feed (only a SHA-256 of the secret is stored); " +
			"run while the server is stopped",
		Run: func(ctx context.Context, args []string) error {
			return runToken(ctx, args, os.Stdout, os.Getenv)
		},
	})
}

func runToken(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing subcommand (create, list, revoke)", errUsage)
	}
	sub, args := args[0], args[1:]
	if isHelpArg(sub) {
		args = []string{"-h"} // every subcommand has the same flags
	}
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := fs.String("data", "./data", "data `directory` of the server")
	fs.String(configFlag, "", "TOML `file` of the server, for its data setting")
	user := fs.String("user", "", "the user who owns the token")
	label := fs.String("label", "", "a note to recognise the token by")
	pos, err := parseInterspersed(fs, args, getenv)
	if err != nil {
		return err
	}
	want := map[string]int{"create": 0, "list": 0, "revoke": 1}
	n, ok := want[sub]
	switch {
	case !ok:
		return fmt.Errorf("%w: unknown subcommand %q (create, list, revoke)", errUsage, sub)
	case len(pos) != n:
		return fmt.Errorf("%w: token %s takes %d argument(s), got %d", errUsage, sub, n, len(pos))
	case *user == "" && sub != "list":
		return fmt.Errorf("%w: token %s needs --user", errUsage, sub)
	}
	db, err := openDB(*dataDir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	m := engine.Meta{Actor: "almanac-token", UserAgent: "almanac token " + sub, RequestID: fmt.Sprintf("cli-%d", time.Now().UnixNano())}
	switch sub {
	case "create":
		u, err := db.User(*user)
		if err != nil {
			return fmt.Errorf("token create: user %q: %w", *user, err)
		}
		tok, plain, err := feed.NewToken(*label, time.Now())
		if err != nil {
			return err
		}
		u.Tokens = append(u.Tokens, tok)
		if err := db.PutUser(ctx, m, *u); err != nil {
			return fmt.Errorf("token create: %w", err)
		}
		fmt.Fprintf(stdout, "%s\n", plain)
		fmt.Fprintf(os.Stderr, "token %s for %s created; it is shown only this once\n", tok.ID, u.Name)
		return nil
	case "revoke":
		u, err := db.User(*user)
		if err != nil {
			return fmt.Errorf("token revoke: user %q: %w", *user, err)
		}
		i := slices.IndexFunc(u.Tokens, func(t engine.APIToken) bool { return t.ID == pos[0] })
		if i < 0 {
			return fmt.Errorf("token revoke: user %q has no token %q", *user, pos[0])
		}
		u.Tokens = slices.Delete(u.Tokens, i, i+1)
		if err := db.PutUser(ctx, m, *u); err != nil {
			return fmt.Errorf("token revoke: %w", err)
		}
		fmt.Fprintf(stdout, "revoked %s\n", pos[0])
		return nil
	default:
		v, err := db.View()
		if err != nil {
			return err
		}
		defer v.Close()
		users, err := v.Users()
		if err != nil {
			return fmt.Errorf("token list: %w", err)
		}
		for _, u := range users {
			if *user != "" && u.Name != *user {
				continue
			}
			for _, t := range u.Tokens {
				fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", u.Name, t.ID, t.Created.Format(time.RFC3339), t.Label)
			}
		}
		return nil
	}
}

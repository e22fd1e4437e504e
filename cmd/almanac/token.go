package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/almanac/almanac/engine"
)

func init() {
	register(Command{
		Name:  "token",
		Usage: "create --user U [--label L] | list [--user U] | revoke --user U ID   [--data DIR | --server URL] [--as ADMIN]",
		Summary: "manage API tokens for the gRPC change feed (only a SHA-256 of the secret is stored); " +
			"while a server runs on --data, through its admin API",
		Run: func(ctx context.Context, args []string) error {
			return (&userCLI{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}).runToken(ctx, args)
		},
	})
}

func (c *userCLI) runToken(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing subcommand (create, list, revoke)", errUsage)
	}
	sub, args := args[0], args[1:]
	if isHelpArg(sub) {
		args = []string{"-h"} // every subcommand has the same flags
	}
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	var af accountFlags
	af.register(fs)
	user := fs.String("user", "", "the user who owns the token")
	label := fs.String("label", "", "a note to recognise the token by")
	pos, err := parseInterspersed(fs, args, c.getenv)
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
	acc, release, err := c.openAccounts(af, "token "+sub)
	if err != nil {
		return err
	}
	defer release()
	switch sub {
	case "create":
		tok, err := acc.CreateToken(ctx, *user, *label)
		if errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("token create: no user %q", *user)
		} else if err != nil {
			return fmt.Errorf("token create: %w", err)
		}
		fmt.Fprintf(c.stdout, "%s\n", tok.Token)
		fmt.Fprintf(c.stderr, "token %s for %s created; it is shown only this once\n", tok.ID, tok.User)
		return nil
	case "revoke":
		if err := acc.RevokeToken(ctx, *user, pos[0]); err != nil {
			return fmt.Errorf("token revoke: %w", err)
		}
		fmt.Fprintf(c.stdout, "revoked %s\n", pos[0])
		return nil
	default:
		users, err := acc.Users(ctx)
		if err != nil {
			return fmt.Errorf("token list: %w", err)
		}
		for _, u := range users {
			if *user != "" && u.Name != *user {
				continue
			}
			for _, t := range u.Tokens {
				fmt.Fprintf(c.stdout, "%s\t%s\t%s\t%s\n", u.Name, t.ID, t.Created.Format(time.RFC3339), t.Label)
			}
		}
		return nil
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
)

// appPasswordUsage is the synopsis of `user app-password`.
const appPasswordUsage = "user app-password add USER --name DEVICE [--read-only] [--collection PATH]... | list [USER] | revoke USER ID   [--data DIR | --server URL] [--as ADMIN]"

// collectionList is a repeatable --collection flag.
type collectionList []string

func (c *collectionList) String() string     { return strings.Join(*c, ",") }
func (c *collectionList) Set(s string) error { *c = append(*c, s); return nil }

// runAppPassword is `almanac user app-password`: per-device passwords a
// DAV client signs in with instead of the account's password.
func (c *userCLI) runAppPassword(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing subcommand (add, list, revoke): %s", errUsage, appPasswordUsage)
	}
	sub, args := args[0], args[1:]
	if isHelpArg(sub) {
		sub, args = "add", []string{"-h"} // every subcommand has the same flags
	}
	fs := flag.NewFlagSet("user app-password "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	var af accountFlags
	af.register(fs)
	name := fs.String("name", "", "the device's `name` (add)")
	readOnly := fs.Bool("read-only", false, "the password may read, never write (add)")
	var colls collectionList
	fs.Var(&colls, "collection", "limit the password to this collection `path` (e.g. /dav/home/alice/calendar/); repeatable (add)")
	pos, err := parseInterspersed(fs, args, c.getenv)
	if err != nil {
		return err
	}
	want := map[string][2]int{"add": {1, 1}, "list": {0, 1}, "revoke": {2, 2}}
	n, ok := want[sub]
	switch {
	case !ok:
		return fmt.Errorf("%w: unknown subcommand %q (add, list, revoke)", errUsage, sub)
	case len(pos) < n[0] || len(pos) > n[1]:
		return fmt.Errorf("%w: %s", errUsage, appPasswordUsage)
	case sub == "add" && *name == "":
		return fmt.Errorf("%w: user app-password add needs --name DEVICE", errUsage)
	}
	acc, release, err := c.openAccounts(af, "user app-password "+sub)
	if err != nil {
		return err
	}
	defer release()
	ap, ok := acc.(audit.AppPasswords)
	if !ok {
		return errors.New("user app-password: these accounts have no app passwords")
	}
	switch sub {
	case "add":
		np, err := ap.CreateAppPassword(ctx, pos[0], engine.AppPasswordSpec{Name: *name, ReadOnly: *readOnly, Collections: colls})
		if errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("user app-password add: no user %q", pos[0])
		} else if err != nil {
			return fmt.Errorf("user app-password add: %w", err)
		}
		fmt.Fprintln(c.stdout, np.Password)
		fmt.Fprintf(c.stderr, "app password %s (%s) for %s created; it is shown only this once\n", np.Info.ID, np.Info.Name, np.User)
		return nil
	case "revoke":
		if err := ap.RevokeAppPassword(ctx, pos[0], pos[1]); err != nil {
			return fmt.Errorf("user app-password revoke: %w", err)
		}
		fmt.Fprintf(c.stdout, "revoked %s\n", pos[1])
		return nil
	}
	users, err := acc.Users(ctx)
	if err != nil {
		return fmt.Errorf("user app-password list: %w", err)
	}
	for _, u := range users {
		if len(pos) == 1 && u.Name != pos[0] {
			continue
		}
		for _, p := range u.AppPasswords {
			fmt.Fprintln(c.stdout, strings.Join(appPasswordRow(u.Name, p), "\t"))
		}
	}
	return nil
}

// appPasswordRow is one line of `user app-password list`: user, id,
// name, scope, created, last use.
func appPasswordRow(user string, p audit.AppPasswordInfo) []string {
	scope := "read-write"
	if p.ReadOnly {
		scope = "read-only"
	}
	if len(p.Collections) > 0 {
		scope += ":" + strings.Join(p.Collections, ",")
	}
	last := "never used"
	if !p.LastUsed.IsZero() {
		last = fmt.Sprintf("last used %s from %s (%s)", p.LastUsed.Format(time.RFC3339), p.LastRemote, p.LastUserAgent)
	}
	return []string{user, p.ID, p.Name, scope, p.Created.Format(time.RFC3339), last}
}

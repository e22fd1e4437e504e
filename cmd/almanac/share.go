package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
)

// shareTarget is the tail of the usage of group, share and proxy.
const shareTarget = "   [--data DIR | --server URL] [--as ADMIN]"

func init() {
	register(Command{
		Name:    "group",
		Usage:   "add NAME [--display-name TEXT] | delete NAME | list | member add|remove GROUP USER..." + shareTarget,
		Summary: "manage groups of users, which collections can be shared with and delegated to; while a server runs on --data, through its admin API",
		Run: func(ctx context.Context, args []string) error {
			return newShareCLI().group(ctx, args)
		},
	})
	register(Command{
		Name: "share",
		Usage: "grant PATH --to USER_OR_GROUP --access read|read-write|freebusy [--auto-accept=false] | " +
			"revoke PATH --to USER_OR_GROUP | list PATH | link create PATH [--freebusy] | link revoke PATH ID | link list PATH" + shareTarget,
		Summary: "share a calendar or address book (PATH: /dav/home/USER/NAME/ or USER/NAME) with a user or a group; " +
			"while a server runs on --data, through its admin API",
		Run: func(ctx context.Context, args []string) error {
			return newShareCLI().share(ctx, args)
		},
	})
	register(Command{
		Name:    "proxy",
		Usage:   "set USER --read|--write|--none DELEGATE | list USER" + shareTarget,
		Summary: "make a user or group a read or write delegate of USER's whole home (Apple's calendar-proxy); while a server runs on --data, through its admin API",
		Run: func(ctx context.Context, args []string) error {
			return newShareCLI().proxy(ctx, args)
		},
	})
}

// shareCLI is `almanac group`, `almanac share` and `almanac proxy`, which
// work on a stopped server's data directory or through the admin API of a
// running server.
type shareCLI struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func newShareCLI() *shareCLI {
	return &shareCLI{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
}

// shareCmd is a parsed command: its positional arguments and where it
// runs.
type shareCmd struct {
	pos []string
	af  accountFlags
}

// cliFlags parses the flags of `name sub` that fn declares, with --data,
// --config, --server and --as, and checks the count of positional
// arguments (-1: one or more).
func (c *shareCLI) cliFlags(name, sub string, args []string, n int, fn func(*flag.FlagSet)) (*shareCmd, error) {
	fs := flag.NewFlagSet(name+" "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	cmd := &shareCmd{}
	cmd.af.register(fs)
	if fn != nil {
		fn(fs)
	}
	pos, err := parseInterspersed(fs, args, c.getenv)
	if err != nil {
		return nil, err
	}
	if n >= 0 && len(pos) != n || n < 0 && len(pos) < -n {
		return nil, fmt.Errorf("%w: %s %s: wrong number of arguments (%d)", errUsage, name, sub, len(pos))
	}
	cmd.pos = pos
	return cmd, nil
}

// run sends q to the data directory, or to the running server's admin API
// (see userCLI.openAccounts); changes made on the data directory are
// events of the actor almanac-cli.
func (c *shareCLI) run(ctx context.Context, cmd *shareCmd, what string, q audit.ShareRequest) (*audit.ShareResult, error) {
	acc, release, err := c.open(cmd, what)
	if err != nil {
		return nil, err
	}
	defer release()
	s, ok := acc.(audit.Sharing)
	if !ok {
		return nil, fmt.Errorf("%s: %T cannot share", what, acc)
	}
	q.Op = strings.ReplaceAll(what, " ", "-")
	return s.Share(ctx, q)
}

// open returns the data directory's backend (its changes events of the
// actor almanac-cli) or the running server's admin API client.
func (c *shareCLI) open(cmd *shareCmd, what string) (any, func(), error) {
	u := &userCLI{stdin: c.stdin, stdout: c.stdout, stderr: c.stderr, getenv: c.getenv}
	acc, release, err := u.openAccounts(cmd.af, what)
	if err != nil {
		return nil, nil, err
	}
	if l, ok := acc.(*audit.Local); ok {
		l.Meta = cliMeta(what)
	}
	return acc, release, nil
}

func (c *shareCLI) group(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing subcommand (add, delete, list, member)", errUsage)
	}
	sub, args := args[0], args[1:]
	if isHelpArg(sub) {
		sub, args = "add", []string{"-h"}
	}
	var display string
	switch sub {
	case "add":
		cmd, err := c.cliFlags("group", sub, args, 1, func(fs *flag.FlagSet) {
			fs.StringVar(&display, "display-name", "", "the group's DAV:displayname (add only)")
		})
		if err != nil {
			return err
		}
		name := cmd.pos[0]
		_, err = c.run(ctx, cmd, "group add", audit.ShareRequest{Name: name, DisplayName: display})
		if errors.Is(err, engine.ErrConflict) {
			return fmt.Errorf("group %q exists; use `almanac group member add %s USER`", name, name)
		} else if err != nil {
			return fmt.Errorf("add group %q: %w", name, err)
		}
		fmt.Fprintf(c.stdout, "added group %s\n", name)
		return nil
	case "delete":
		cmd, err := c.cliFlags("group", sub, args, 1, nil)
		if err != nil {
			return err
		}
		if _, err := c.run(ctx, cmd, "group delete", audit.ShareRequest{Name: cmd.pos[0]}); err != nil {
			return fmt.Errorf("delete group %q: %w", cmd.pos[0], err)
		}
		fmt.Fprintf(c.stdout, "deleted group %s (its shares and delegations went with it)\n", cmd.pos[0])
		return nil
	case "list":
		cmd, err := c.cliFlags("group", sub, args, 0, nil)
		if err != nil {
			return err
		}
		res, err := c.run(ctx, cmd, "group list", audit.ShareRequest{})
		if err != nil {
			return fmt.Errorf("list groups: %w", err)
		}
		for _, g := range res.Groups {
			fmt.Fprintf(c.stdout, "%s\t%s\t%s\n", g.Name, g.DisplayName, strings.Join(g.Members, " "))
		}
		return nil
	case "member":
		if len(args) == 0 || (args[0] != "add" && args[0] != "remove") {
			return fmt.Errorf("%w: want group member add|remove GROUP USER [USER]", errUsage)
		}
		op := args[0]
		cmd, err := c.cliFlags("group member", op, args[1:], -2, nil)
		if err != nil {
			return err
		}
		pos := cmd.pos
		if _, err := c.run(ctx, cmd, "group member "+op, audit.ShareRequest{Name: pos[0], Members: pos[1:]}); err != nil {
			return fmt.Errorf("group %s: member %s: %w", pos[0], op, err)
		}
		fmt.Fprintf(c.stdout, "group %s: %s %s\n", pos[0], map[string]string{"add": "added", "remove": "removed"}[op], strings.Join(pos[1:], " "))
		return nil
	}
	return fmt.Errorf("%w: unknown subcommand %q (add, delete, list, member)", errUsage, sub)
}

// collectionPath makes a CLI PATH a collection path: "alice/calendar" is
// /dav/home/alice/calendar/.
func collectionPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/dav/home/" + p
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

func (c *shareCLI) share(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing subcommand (grant, revoke, list)", errUsage)
	}
	sub, args := args[0], args[1:]
	if isHelpArg(sub) {
		sub, args = "grant", []string{"-h"}
	}
	if sub == "link" {
		return c.link(ctx, args)
	}
	var to, access string
	auto := true
	declare := func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "the user or group `name` to share with (grant, revoke)")
		fs.StringVar(&access, "access", "read", "read, read-write or freebusy (grant)")
		fs.BoolVar(&auto, "auto-accept", true, "mount the share in the sharees' homes at once (grant)")
	}
	if sub != "grant" && sub != "revoke" && sub != "list" {
		return fmt.Errorf("%w: unknown subcommand %q (grant, revoke, list)", errUsage, sub)
	}
	cmd, err := c.cliFlags("share", sub, args, 1, declare)
	if err != nil {
		return err
	}
	path := collectionPath(cmd.pos[0])
	if sub != "list" && to == "" {
		return fmt.Errorf("%w: share %s needs --to", errUsage, sub)
	}
	switch sub {
	case "grant":
		a, err := engine.ParseAccess(access)
		if err != nil {
			return fmt.Errorf("%w: --access: %w", errUsage, err)
		}
		if _, err := c.run(ctx, cmd, "share grant", audit.ShareRequest{Path: path, To: to, Access: access, AutoAccept: auto}); err != nil {
			return fmt.Errorf("share %s with %s: %w", path, to, err)
		}
		fmt.Fprintf(c.stdout, "shared %s with %s (%s)\n", path, to, a)
	case "revoke":
		if _, err := c.run(ctx, cmd, "share revoke", audit.ShareRequest{Path: path, To: to}); err != nil {
			return fmt.Errorf("revoke %s from %s: %w", path, to, err)
		}
		fmt.Fprintf(c.stdout, "revoked %s from %s\n", path, to)
	default:
		res, err := c.run(ctx, cmd, "share list", audit.ShareRequest{Path: path})
		if err != nil {
			return fmt.Errorf("list the grants of %s: %w", path, err)
		}
		for _, g := range res.Grants {
			fmt.Fprintf(c.stdout, "%s\t%s\n", g.Grantee, g.Access)
		}
	}
	return nil
}

// link is `almanac share link create|revoke|list PATH`.
func (c *shareCLI) link(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing subcommand (share link create, revoke, list)", errUsage)
	}
	sub, args := args[0], args[1:]
	freeBusy := false
	n := map[string]int{"create": 1, "revoke": 2, "list": 1}[sub]
	if n == 0 {
		return fmt.Errorf("%w: unknown subcommand %q (share link create, revoke, list)", errUsage, sub)
	}
	cmd, err := c.cliFlags("share link", sub, args, n, func(fs *flag.FlagSet) {
		if sub == "create" {
			fs.BoolVar(&freeBusy, "freebusy", false, "the link serves free-busy time only (create)")
		}
	})
	if err != nil {
		return err
	}
	pos := cmd.pos
	path := collectionPath(pos[0])
	q := audit.ShareRequest{Path: path, FreeBusy: freeBusy}
	if sub == "revoke" {
		q.ID = pos[1]
	}
	res, err := c.run(ctx, cmd, "share link "+sub, q)
	switch {
	case err != nil && sub == "create":
		return fmt.Errorf("link to %s: %w", path, err)
	case err != nil && sub == "revoke":
		return fmt.Errorf("revoke link %s of %s: %w", pos[1], path, err)
	case err != nil:
		return fmt.Errorf("list the links of %s: %w", path, err)
	case sub == "create":
		l := res.Link
		if l == nil {
			return fmt.Errorf("link to %s: the answer holds no link", path)
		}
		fmt.Fprintf(c.stdout, "link %s to %s (shown once; revoke with `almanac share link revoke %s %s`):\n", l.ID, path, pos[0], l.ID)
		fmt.Fprintf(c.stdout, "  https://HOST/pub/%s.ics\n  webcal://HOST/pub/%s.ics\n", l.Token, l.Token)
	case sub == "revoke":
		fmt.Fprintf(c.stdout, "revoked link %s of %s\n", pos[1], path)
	default:
		for _, l := range res.Links {
			what := "calendar"
			if l.FreeBusy {
				what = "freebusy"
			}
			fmt.Fprintf(c.stdout, "%s\t%s\t%s\t%s", l.ID, what, l.Created.UTC().Format(time.RFC3339), l.Actor)
			if l.Token != "" { // published (CS:publish-calendar): the server can show it again
				fmt.Fprintf(c.stdout, "\tpublished https://HOST/pub/%s.ics", l.Token)
			}
			fmt.Fprintln(c.stdout)
		}
	}
	return nil
}

func (c *shareCLI) proxy(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing subcommand (set, list)", errUsage)
	}
	sub, args := args[0], args[1:]
	if isHelpArg(sub) {
		sub, args = "set", []string{"-h"}
	}
	var read, write, none string
	switch sub {
	case "set":
		cmd, err := c.cliFlags("proxy", sub, args, 1, func(fs *flag.FlagSet) {
			fs.StringVar(&read, "read", "", "make the user or group `name` a read delegate (set)")
			fs.StringVar(&write, "write", "", "make the user or group `name` a write delegate (set)")
			fs.StringVar(&none, "none", "", "withdraw the delegation of the user or group `name` (set)")
		})
		if err != nil {
			return err
		}
		var delegate string
		var a engine.Access
		n := 0
		for _, d := range []struct {
			name string
			a    engine.Access
		}{{read, engine.AccessRead}, {write, engine.AccessReadWrite}, {none, engine.AccessNone}} {
			if d.name != "" {
				delegate, a = d.name, d.a
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%w: proxy set takes one of --read, --write, --none", errUsage)
		}
		user := cmd.pos[0]
		if _, err := c.run(ctx, cmd, "proxy set", audit.ShareRequest{Name: user, To: delegate, Access: a.String()}); err != nil {
			return fmt.Errorf("proxy of %s: %w", user, err)
		}
		fmt.Fprintf(c.stdout, "%s: delegate %s: %s\n", user, delegate, a)
		return nil
	case "list":
		cmd, err := c.cliFlags("proxy", sub, args, 1, nil)
		if err != nil {
			return err
		}
		res, err := c.run(ctx, cmd, "proxy list", audit.ShareRequest{Name: cmd.pos[0]})
		if err != nil {
			return fmt.Errorf("list the delegates of %s: %w", cmd.pos[0], err)
		}
		for _, p := range res.Proxies {
			fmt.Fprintf(c.stdout, "%s\t%s\n", p.Grantee, p.Access)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown subcommand %q (set, list)", errUsage, sub)
}

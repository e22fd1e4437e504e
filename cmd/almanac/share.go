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

	"github.com/almanac/almanac/engine"
)

func init() {
	register(Command{
		Name: "group",
		Usage: "add NAME [--display-name TEXT] | delete NAME | list | member add|remove GROUP USER...   " +
			"[--data DIR] [--config FILE]",
		Summary: "manage groups of users, which collections can be shared with and delegated to; run while the server is stopped",
		Run: func(ctx context.Context, args []string) error {
			return (&shareCLI{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}).group(ctx, args)
		},
	})
	register(Command{
		Name: "share",
		Usage: "grant PATH --to USER_OR_GROUP --access read|read-write|freebusy [--auto-accept=false] | " +
			"revoke PATH --to USER_OR_GROUP | list PATH | link create PATH [--freebusy] | link revoke PATH ID | link list PATH   " +
			"[--data DIR] [--config FILE]",
		Summary: "share a calendar or address book (PATH: /dav/home/USER/NAME/ or USER/NAME) with a user or a group; " +
			"run while the server is stopped",
		Run: func(ctx context.Context, args []string) error {
			return (&shareCLI{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}).share(ctx, args)
		},
	})
	register(Command{
		Name:    "proxy",
		Usage:   "set USER --read|--write|--none DELEGATE | list USER   [--data DIR] [--config FILE]",
		Summary: "make a user or group a read or write delegate of USER's whole home (Apple's calendar-proxy); run while the server is stopped",
		Run: func(ctx context.Context, args []string) error {
			return (&shareCLI{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}).proxy(ctx, args)
		},
	})
}

// shareCLI is `almanac group`, `almanac share` and `almanac proxy`, which
// work on a stopped server's data directory.
type shareCLI struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// cliFlags parses the flags of `name sub` that fn declares, with --data
// and --config, and checks the count of positional arguments (-1: one or
// more).
func (c *shareCLI) cliFlags(name, sub string, args []string, n int, fn func(*flag.FlagSet)) ([]string, string, error) {
	fs := flag.NewFlagSet(name+" "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	dataDir := fs.String("data", "./data", "data `directory` of the server")
	fs.String(configFlag, "", "TOML `file` of the server, for its data setting")
	if fn != nil {
		fn(fs)
	}
	pos, err := parseInterspersed(fs, args, c.getenv)
	if err != nil {
		return nil, "", err
	}
	if n >= 0 && len(pos) != n || n < 0 && len(pos) < -n {
		return nil, "", fmt.Errorf("%w: %s %s: wrong number of arguments (%d)", errUsage, name, sub, len(pos))
	}
	return pos, *dataDir, nil
}

// withDataDB opens the data directory's database for fn.
func withDataDB(dataDir string, fn func(*engine.DB) error) error {
	db, err := openDB(dataDir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

// withDataView opens the data directory's database for fn to read a view.
func withDataView(dataDir string, fn func(*engine.View) error) error {
	return withDataDB(dataDir, func(db *engine.DB) error {
		v, err := db.View()
		if err != nil {
			return err
		}
		defer v.Close()
		return fn(v)
	})
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
		pos, dir, err := c.cliFlags("group", sub, args, 1, func(fs *flag.FlagSet) {
			fs.StringVar(&display, "display-name", "", "the group's DAV:displayname (add only)")
		})
		if err != nil {
			return err
		}
		return withDataDB(dir, func(db *engine.DB) error {
			v, err := db.View()
			if err != nil {
				return err
			}
			_, err = v.Group(pos[0])
			v.Close()
			if err == nil {
				return fmt.Errorf("group %q exists; use `almanac group member add %s USER`", pos[0], pos[0])
			} else if !errors.Is(err, engine.ErrNotFound) {
				return err
			}
			if err := db.PutGroup(ctx, cliMeta("group add"), engine.Group{Name: pos[0], DisplayName: display}); err != nil {
				return fmt.Errorf("add group %q: %w", pos[0], err)
			}
			fmt.Fprintf(c.stdout, "added group %s\n", pos[0])
			return nil
		})
	case "delete":
		pos, dir, err := c.cliFlags("group", sub, args, 1, nil)
		if err != nil {
			return err
		}
		return withDataDB(dir, func(db *engine.DB) error {
			if err := db.DeleteGroup(ctx, cliMeta("group delete"), pos[0]); err != nil {
				return fmt.Errorf("delete group %q: %w", pos[0], err)
			}
			fmt.Fprintf(c.stdout, "deleted group %s (its shares and delegations went with it)\n", pos[0])
			return nil
		})
	case "list":
		_, dir, err := c.cliFlags("group", sub, args, 0, nil)
		if err != nil {
			return err
		}
		return withDataView(dir, func(v *engine.View) error {
			gs, err := v.Groups()
			if err != nil {
				return fmt.Errorf("list groups: %w", err)
			}
			for _, g := range gs {
				fmt.Fprintf(c.stdout, "%s\t%s\t%s\n", g.Name, g.DisplayName, strings.Join(g.Members, " "))
			}
			return nil
		})
	case "member":
		if len(args) == 0 || (args[0] != "add" && args[0] != "remove") {
			return fmt.Errorf("%w: want group member add|remove GROUP USER [USER]", errUsage)
		}
		op := args[0]
		pos, dir, err := c.cliFlags("group member", op, args[1:], -2, nil)
		if err != nil {
			return err
		}
		return withDataDB(dir, func(db *engine.DB) error {
			m := cliMeta("group member " + op)
			if op == "add" {
				err = db.AddGroupMembers(ctx, m, pos[0], pos[1:]...)
			} else {
				err = db.RemoveGroupMembers(ctx, m, pos[0], pos[1:]...)
			}
			if err != nil {
				return fmt.Errorf("group %s: member %s: %w", pos[0], op, err)
			}
			fmt.Fprintf(c.stdout, "group %s: %s %s\n", pos[0], map[string]string{"add": "added", "remove": "removed"}[op], strings.Join(pos[1:], " "))
			return nil
		})
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
	pos, dir, err := c.cliFlags("share", sub, args, 1, declare)
	if err != nil {
		return err
	}
	path := collectionPath(pos[0])
	if sub != "list" && to == "" {
		return fmt.Errorf("%w: share %s needs --to", errUsage, sub)
	}
	return withDataDB(dir, func(db *engine.DB) error {
		switch sub {
		case "grant":
			a, err := engine.ParseAccess(access)
			if err != nil {
				return fmt.Errorf("%w: --access: %w", errUsage, err)
			}
			if err := db.Grant(ctx, cliMeta("share grant"), path, to, a, engine.GrantOptions{AutoAccept: auto}); err != nil {
				return fmt.Errorf("share %s with %s: %w", path, to, err)
			}
			fmt.Fprintf(c.stdout, "shared %s with %s (%s)\n", path, to, a)
		case "revoke":
			if err := db.Revoke(ctx, cliMeta("share revoke"), path, to); err != nil {
				return fmt.Errorf("revoke %s from %s: %w", path, to, err)
			}
			fmt.Fprintf(c.stdout, "revoked %s from %s\n", path, to)
		default:
			v, err := db.View()
			if err != nil {
				return err
			}
			defer v.Close()
			gs, err := v.Grants(path)
			if err != nil {
				return fmt.Errorf("list the grants of %s: %w", path, err)
			}
			for _, g := range gs {
				fmt.Fprintf(c.stdout, "%s\t%s\n", g.Grantee, g.Access)
			}
		}
		return nil
	})
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
	pos, dir, err := c.cliFlags("share link", sub, args, n, func(fs *flag.FlagSet) {
		if sub == "create" {
			fs.BoolVar(&freeBusy, "freebusy", false, "the link serves free-busy time only (create)")
		}
	})
	if err != nil {
		return err
	}
	path := collectionPath(pos[0])
	return withDataDB(dir, func(db *engine.DB) error {
		switch sub {
		case "create":
			token, l, err := db.CreateLink(ctx, cliMeta("share link create"), path, freeBusy)
			if err != nil {
				return fmt.Errorf("link to %s: %w", path, err)
			}
			fmt.Fprintf(c.stdout, "link %s to %s (shown once; revoke with `almanac share link revoke %s %s`):\n", l.ID, path, pos[0], l.ID)
			fmt.Fprintf(c.stdout, "  https://HOST/pub/%s.ics\n  webcal://HOST/pub/%s.ics\n", token, token)
		case "revoke":
			if err := db.RevokeLink(ctx, cliMeta("share link revoke"), path, pos[1]); err != nil {
				return fmt.Errorf("revoke link %s of %s: %w", pos[1], path, err)
			}
			fmt.Fprintf(c.stdout, "revoked link %s of %s\n", pos[1], path)
		default:
			v, err := db.View()
			if err != nil {
				return err
			}
			defer v.Close()
			ls, err := v.Links(path)
			if err != nil {
				return fmt.Errorf("list the links of %s: %w", path, err)
			}
			for _, l := range ls {
				what := "calendar"
				if l.FreeBusyOnly {
					what = "freebusy"
				}
				fmt.Fprintf(c.stdout, "%s\t%s\t%s\t%s\n", l.ID, what, l.Created.UTC().Format(time.RFC3339), l.Actor)
			}
		}
		return nil
	})
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
		pos, dir, err := c.cliFlags("proxy", sub, args, 1, func(fs *flag.FlagSet) {
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
		return withDataDB(dir, func(db *engine.DB) error {
			if err := db.SetProxy(ctx, cliMeta("proxy set"), pos[0], delegate, a); err != nil {
				return fmt.Errorf("proxy of %s: %w", pos[0], err)
			}
			fmt.Fprintf(c.stdout, "%s: delegate %s: %s\n", pos[0], delegate, a)
			return nil
		})
	case "list":
		pos, dir, err := c.cliFlags("proxy", sub, args, 1, nil)
		if err != nil {
			return err
		}
		return withDataView(dir, func(v *engine.View) error {
			ps, err := v.Proxies(pos[0])
			if err != nil {
				return fmt.Errorf("list the delegates of %s: %w", pos[0], err)
			}
			for _, p := range ps {
				fmt.Fprintf(c.stdout, "%s\t%s\n", p.Delegate, p.Access)
			}
			return nil
		})
	}
	return fmt.Errorf("%w: unknown subcommand %q (set, list)", errUsage, sub)
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/engine"
)

func init() {
	register(Command{
		Name: "resource",
		Usage: "add NAME --type room|resource --email ADDR... [--auto-accept|--auto-accept-if-free|--manual] [--managers GROUP] [--display-name TEXT] | " +
			"set NAME [the flags of add] | list | remove NAME   [--data DIR]",
		Summary: "manage rooms and resources: principals that never sign in, whose invitations the server accepts or declines " +
			"(--auto-accept-if-free, the default, declines when busy), managed by a group of write delegates; the server must be stopped",
		Run: func(ctx context.Context, args []string) error {
			return (&resourceCLI{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}).run(ctx, args)
		},
	})
}

// resourceCLI is `almanac resource`. It works on a stopped server's data
// directory only: the admin API has no resource calls yet.
type resourceCLI struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// resourceFlags are the flags of add and set; a zero field is not given.
type resourceFlags struct {
	typ, managers, displayName string
	emails                     stringList
	accept, acceptIfFree, man  bool
	noManagers                 bool
}

func (f *resourceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.typ, "type", "", "`room` or resource (add: required)")
	fs.Var(&f.emails, "email", "an email `address` of the resource, its calendar user address (repeatable; set: replaces them all)")
	fs.BoolVar(&f.accept, "auto-accept", false, "accept every invitation")
	fs.BoolVar(&f.acceptIfFree, "auto-accept-if-free", false, "accept an invitation when free at each of its instances, else decline (the default)")
	fs.BoolVar(&f.man, "manual", false, "leave invitations NEEDS-ACTION in the inbox for the managers to answer")
	fs.StringVar(&f.managers, "managers", "", "the `group` whose members manage the resource (its write delegates)")
	fs.BoolVar(&f.noManagers, "no-managers", false, "set: withdraw the managers group")
	fs.StringVar(&f.displayName, "display-name", "", "a human-readable `name` (\"Room 4.01, 12 seats\")")
}

// policy is the policy the flags choose, "" for none.
func (f *resourceFlags) policy() (engine.AutoSchedule, error) {
	var out []engine.AutoSchedule
	for p, set := range map[engine.AutoSchedule]bool{engine.AutoAccept: f.accept, engine.AutoAcceptIfFree: f.acceptIfFree, engine.AutoManual: f.man} {
		if set {
			out = append(out, p)
		}
	}
	if len(out) > 1 {
		return "", fmt.Errorf("%w: give one of --auto-accept, --auto-accept-if-free and --manual", errUsage)
	}
	if len(out) == 0 {
		return "", nil
	}
	return out[0], nil
}

func (c *resourceCLI) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing subcommand (add, set, list, remove)", errUsage)
	}
	sub, args := args[0], args[1:]
	if isHelpArg(sub) {
		sub, args = "add", []string{"-h"}
	}
	want := map[string]int{"add": 1, "set": 1, "list": 0, "remove": 1}
	n, ok := want[sub]
	if !ok {
		return fmt.Errorf("%w: unknown subcommand %q (add, set, list, remove)", errUsage, sub)
	}
	fs := flag.NewFlagSet("resource "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	var data string
	fs.StringVar(&data, "data", defaultDataDir, "data `directory` of the server, which must be stopped")
	fs.String(configFlag, "", "TOML `file` of the server, for its data setting")
	var rf resourceFlags
	if sub == "add" || sub == "set" {
		rf.register(fs)
	}
	pos, err := parseInterspersed(fs, args, c.getenv)
	if err != nil {
		return err
	}
	if len(pos) != n {
		return fmt.Errorf("%w: resource %s takes %d argument(s), got %d", errUsage, sub, n, len(pos))
	}
	db, err := openDB(data, nil)
	if errors.Is(err, errDataDirInUse) {
		return fmt.Errorf("%w (%s): stop the server to manage resources (the admin API has no resource calls yet)", err, data)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	m := cliMeta("resource " + sub)
	m.Actor = operator()
	switch sub {
	case "list":
		return c.list(db)
	case "remove":
		return c.remove(ctx, db, m, pos[0])
	}
	return c.put(ctx, db, m, sub == "add", pos[0], rf)
}

// put adds (add) or changes (set) resource name, then its home and its
// managers' delegation.
func (c *resourceCLI) put(ctx context.Context, db *engine.DB, m engine.Meta, add bool, name string, rf resourceFlags) error {
	policy, err := rf.policy()
	if err != nil {
		return err
	}
	var typ engine.ResourceType
	switch strings.ToLower(rf.typ) {
	case "":
		if add {
			return fmt.Errorf("%w: resource add needs --type room or --type resource", errUsage)
		}
	case "room":
		typ = engine.ResourceRoom
	case "resource":
		typ = engine.ResourceThing
	default:
		return fmt.Errorf("%w: --type %q: room or resource", errUsage, rf.typ)
	}
	if rf.managers != "" {
		if err := groupExists(db, rf.managers); err != nil {
			return fmt.Errorf("managers %q: %w (create it with `almanac group add`)", rf.managers, err)
		}
	}
	oldManagers := ""
	change := func(u *engine.User) {
		r := u.Resource
		if typ != "" {
			r.Type = typ
		}
		if policy != "" {
			r.AutoSchedule = policy
		}
		oldManagers = r.Managers
		if rf.managers != "" || rf.noManagers {
			r.Managers = rf.managers
		}
		if rf.displayName != "" {
			r.DisplayName = rf.displayName
		}
		if len(rf.emails) > 0 {
			u.Emails = rf.emails
		}
	}
	if add {
		if policy == "" {
			policy = engine.AutoAcceptIfFree
		}
		u := engine.User{Name: name, Disabled: true, Resource: &engine.Resource{}}
		change(&u)
		err = db.AddUser(ctx, m, u)
	} else {
		err = db.UpdateUser(ctx, m, name, func(u *engine.User) error {
			if u.Resource == nil {
				return fmt.Errorf("%q is a user, not a resource", name)
			}
			change(u)
			return nil
		})
	}
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return fmt.Errorf("no resource %q", name)
	case errors.Is(err, engine.ErrAddressTaken):
		return fmt.Errorf("resource %s %q: %w", map[bool]string{true: "add", false: "set"}[add], name, err)
	case errors.Is(err, engine.ErrExists):
		return fmt.Errorf("a user, group or resource %q exists; change a resource with `almanac resource set`", name)
	case err != nil:
		return fmt.Errorf("resource %q: %w", name, err)
	}
	if err := dav.EnsureHome(ctx, db, name, m); err != nil {
		return err
	}
	if rf.managers != oldManagers && (rf.managers != "" || rf.noManagers) {
		if oldManagers != "" {
			if err := db.SetProxy(ctx, m, name, oldManagers, engine.AccessNone); err != nil && !errors.Is(err, engine.ErrNotFound) {
				return fmt.Errorf("withdraw the managers %q of %q: %w", oldManagers, name, err)
			}
		}
		if rf.managers != "" {
			if err := db.SetProxy(ctx, m, name, rf.managers, engine.AccessReadWrite); err != nil {
				return fmt.Errorf("make %q the managers of %q: %w", rf.managers, name, err)
			}
		}
	}
	u, err := db.User(name)
	if err != nil {
		return err
	}
	verb := "changed"
	if add {
		verb = "added"
	}
	fmt.Fprintf(c.stdout, "%s %s\n", verb, resourceLine(u))
	return nil
}

// resourceLine is one resource as list prints it.
func resourceLine(u *engine.User) string {
	r := u.Resource
	line := fmt.Sprintf("%s\t%s\t%s", u.Name, strings.ToLower(string(r.Type)), r.AutoSchedule)
	line += "\tmanagers=" + orDash(r.Managers)
	line += "\t" + orDash(strings.Join(u.Emails, ","))
	if r.DisplayName != "" {
		line += "\t" + r.DisplayName
	}
	return line
}

// orDash is s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// groupExists returns engine.ErrNotFound when no group has the name.
func groupExists(db *engine.DB, name string) error {
	v, err := db.View()
	if err != nil {
		return err
	}
	defer v.Close()
	_, err = v.Group(name)
	return err
}

func (c *resourceCLI) list(db *engine.DB) error {
	v, err := db.View()
	if err != nil {
		return err
	}
	defer v.Close()
	users, err := v.Users()
	if err != nil {
		return fmt.Errorf("list resources: %w", err)
	}
	users = slices.DeleteFunc(users, func(u *engine.User) bool { return u.Resource == nil })
	for _, u := range users {
		fmt.Fprintln(c.stdout, resourceLine(u))
	}
	return nil
}

// remove deletes the resource's account (its home and calendar stay, as
// a user's do) and its managers' delegation.
func (c *resourceCLI) remove(ctx context.Context, db *engine.DB, m engine.Meta, name string) error {
	u, err := db.User(name)
	if err != nil || u.Resource == nil {
		return fmt.Errorf("no resource %q", name)
	}
	// The delegations of the resource's home (its managers group, and
	// any other) are withdrawn first, as events: deleting an account
	// revokes what was granted to it, not what it granted, and a
	// resource's managers would keep writing its calendar.
	v, err := db.View()
	if err != nil {
		return err
	}
	ps, err := v.Proxies(name)
	v.Close()
	if err != nil {
		return fmt.Errorf("remove %q: its delegates: %w", name, err)
	}
	dm := m
	dm.Reason = "resource " + name + " removed"
	for _, p := range ps {
		if err := db.SetProxy(ctx, dm, name, p.Delegate, engine.AccessNone); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("remove %q: withdraw the delegation to %q: %w", name, p.Delegate, err)
		}
	}
	if err := db.DeleteUser(ctx, m, name); err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	fmt.Fprintf(c.stdout, "removed resource %s (the data in /dav/home/%s/ stays)\n", name, name)
	return nil
}

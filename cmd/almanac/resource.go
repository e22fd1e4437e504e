package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
)

func init() {
	register(Command{
		Name: "resource",
		Usage: "add NAME --type room|resource --email ADDR... [--auto-accept|--auto-accept-if-free|--manual] [--managers GROUP] [--display-name TEXT] | " +
			"set NAME [the flags of add] | list | remove NAME   [--data DIR | --server URL --as ADMIN]",
		Summary: "manage rooms and resources: principals that never sign in, whose invitations the server accepts or declines " +
			"(--auto-accept-if-free, the default, declines when busy), managed by a group of write delegates; while a server runs on --data, through its admin API",
		Run: func(ctx context.Context, args []string) error {
			return newShareCLI().resource(ctx, args)
		},
	})
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

// resource is `almanac resource add|set|list|remove`: on a stopped
// server's data directory, or through the admin API of the server that
// runs on it (or of --server).
func (c *shareCLI) resource(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing subcommand (add, set, list, remove)", errUsage)
	}
	sub, args := args[0], args[1:]
	if isHelpArg(sub) {
		sub, args = "add", []string{"-h"}
	}
	n, ok := map[string]int{"add": 1, "set": 1, "list": 0, "remove": 1}[sub]
	if !ok {
		return fmt.Errorf("%w: unknown subcommand %q (add, set, list, remove)", errUsage, sub)
	}
	var rf resourceFlags
	cmd, err := c.cliFlags("resource", sub, args, n, func(fs *flag.FlagSet) {
		if sub == "add" || sub == "set" {
			rf.register(fs)
		}
	})
	if err != nil {
		return err
	}
	q := audit.ResourceRequest{Op: "resource-" + sub}
	if n == 1 {
		q.Name = cmd.pos[0]
	}
	if sub == "add" || sub == "set" {
		policy, err := rf.policy()
		if err != nil {
			return err
		}
		if sub == "add" && rf.typ == "" {
			return fmt.Errorf("%w: resource add needs --type room or --type resource", errUsage)
		}
		q.Type, q.Policy, q.Emails, q.DisplayName = rf.typ, string(policy), rf.emails, rf.displayName
		q.Managers, q.NoManagers = rf.managers, rf.noManagers
	}
	acc, release, err := c.open(cmd, "resource "+sub)
	if err != nil {
		return err
	}
	defer release()
	rs, ok := acc.(audit.Resources)
	if !ok {
		return fmt.Errorf("resource %s: %T cannot manage resources", sub, acc)
	}
	res, err := rs.Resource(ctx, q)
	switch {
	case errors.Is(err, engine.ErrNotFound) && rf.managers != "" && strings.Contains(err.Error(), "managers group"):
		return fmt.Errorf("%w (create it with `almanac group add`)", err)
	case errors.Is(err, engine.ErrNotFound):
		return fmt.Errorf("no resource %q", q.Name)
	case err != nil:
		return fmt.Errorf("resource %s: %w", sub, err)
	}
	switch sub {
	case "list":
		for _, r := range res.Resources {
			fmt.Fprintln(c.stdout, resourceLine(r))
		}
	case "remove":
		fmt.Fprintf(c.stdout, "removed resource %s (the data in /dav/home/%s/ stays)\n", q.Name, q.Name)
	default:
		if res.Resource == nil {
			return fmt.Errorf("resource %s: the answer holds no resource", sub)
		}
		verb := map[string]string{"add": "added", "set": "changed"}[sub]
		fmt.Fprintf(c.stdout, "%s %s\n", verb, resourceLine(*res.Resource))
	}
	return nil
}

// resourceLine is one resource as list prints it.
func resourceLine(r audit.ResourceInfo) string {
	line := fmt.Sprintf("%s\t%s\t%s", r.Name, r.Type, r.Policy)
	line += "\tmanagers=" + orDash(r.Managers)
	line += "\t" + orDash(strings.Join(r.Emails, ","))
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

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/almanac/almanac/dav/audit"
)

const remoteUsage = "[--server URL --user ADMIN | --data DIR]"

// auditCommands are the audit subcommands by name, each run with the
// streams of env (tests pass buffers).
var auditCommands = map[string]func(ctx context.Context, env *auditEnv, args []string) error{
	"history":  runHistory,
	"restore":  runRestore,
	"undelete": runUndelete,
	"compact":  runCompact,
	"purge":    runPurge,
	"rebuild":  runRebuild,
	"verify":   runVerify,
	"export":   runExport,
	"import":   runImport,
}

func init() {
	for _, c := range []Command{
		{Name: "history", Usage: "PATH [--since TIME] [--json] [--show SEQ] [--diff SEQ[..SEQ2]] " + remoteUsage,
			Summary: "every change of an object, a collection or a user's home (who, when, which client, ETags)"},
		{Name: "restore", Usage: "PATH --as-of TIME|SEQ [--dry-run] " + remoteUsage,
			Summary: "bring an object, a collection or a home back to its state at a moment (appends new events)"},
		{Name: "undelete", Usage: "PATH " + remoteUsage,
			Summary: "undo the last deletion of an object or a collection"},
		{Name: "compact", Usage: "--keep 90d " + remoteUsage,
			Summary: "retention: drop bodies of versions superseded before now-keep and expire older tombstones"},
		{Name: "purge", Usage: "PATH " + remoteUsage,
			Summary: "GDPR erasure: delete an object or collection and erase its content from the log and the files"},
		{Name: "rebuild", Usage: remoteUsage, Summary: "drop every projection and replay the log"},
		{Name: "verify", Usage: remoteUsage, Summary: "check the projections against a replay of the log"},
		{Name: "export", Usage: "PATH [--as-of TIME|SEQ] [--vdir DIR | --radicale DIR] " + remoteUsage + " > file.ics|file.vcf",
			Summary: "write a calendar as one VCALENDAR or an address book as vCards to stdout, or a collection or home as a vdir tree"},
		{Name: "import", Usage: "PATH file.ics|file.vcf|DIR | --users RADICALE_ROOT " + remoteUsage,
			Summary: "import a file (one object per UID, named <uid>.ics) or Radicale/vdir folders (every file under its own name); idempotent"},
	} {
		runCmd := auditCommands[c.Name]
		c.Run = func(ctx context.Context, args []string) error { return runCmd(ctx, defaultAuditEnv(), args) }
		register(c)
	}
}

func runUndelete(ctx context.Context, env *auditEnv, args []string) error {
	return runAudit(ctx, env, "undelete", args, 1, nil, func(ctx context.Context, b audit.Backend, pos []string) error {
		rep, err := b.Undelete(ctx, pos[0])
		if err != nil {
			return err
		}
		return printReport(env.stdout, rep)
	})
}

func runPurge(ctx context.Context, env *auditEnv, args []string) error {
	return runAudit(ctx, env, "purge", args, 1, nil, func(ctx context.Context, b audit.Backend, pos []string) error {
		res, err := b.Purge(ctx, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "purged %s: event %d, %d record(s) erased, deleted %v\n", pos[0], res.Seq, len(res.Erased), res.Deleted)
		return nil
	})
}

func runRebuild(ctx context.Context, env *auditEnv, args []string) error {
	return runAudit(ctx, env, "rebuild", args, 0, nil, func(ctx context.Context, b audit.Backend, _ []string) error {
		// A data directory was rebuilt as it opened (engine.Options.Rebuild).
		if _, local := b.(*audit.Local); !local {
			if err := b.Rebuild(ctx); err != nil {
				return err
			}
		}
		fmt.Fprintln(env.stdout, "ok: projections rebuilt from the log")
		return nil
	})
}

func runVerify(ctx context.Context, env *auditEnv, args []string) error {
	return runAudit(ctx, env, "verify", args, 0, nil, func(ctx context.Context, b audit.Backend, _ []string) error {
		if err := b.Verify(ctx); err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, "ok: projections match the log")
		return nil
	})
}

func runHistory(ctx context.Context, env *auditEnv, args []string) error {
	var since, diff string
	var show uint64
	var asJSON bool
	extra := func(fs *flag.FlagSet) {
		fs.StringVar(&since, "since", "", "only changes at or after this RFC 3339 `time`")
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		fs.Uint64Var(&show, "show", 0, "print the object version written by event `SEQ`")
		fs.StringVar(&diff, "diff", "", "property diff between versions `SEQ[..SEQ2]` (SEQ2 defaults to the next version)")
	}
	return runAudit(ctx, env, "history", args, 1, extra, func(ctx context.Context, b audit.Backend, pos []string) error {
		switch {
		case show != 0:
			v, err := b.Version(ctx, show)
			if err != nil {
				return err
			}
			_, err = env.stdout.Write(v.Body)
			return err
		case diff != "":
			return printDiff(ctx, env.stdout, b, pos[0], diff)
		}
		var t time.Time
		if since != "" {
			var err error
			if t, err = time.Parse(time.RFC3339, since); err != nil {
				return fmt.Errorf("%w: --since: %v", errUsage, err)
			}
		}
		changes, err := b.History(ctx, pos[0], t)
		if err != nil {
			return err
		}
		if asJSON {
			enc := json.NewEncoder(env.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(changes)
		}
		return printHistory(env.stdout, changes)
	})
}

func printHistory(w io.Writer, changes []audit.Change) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tCLIENT\tOP\tOBJECT\tETAG BEFORE\tETAG AFTER\tNOTE")
	for _, c := range changes {
		obj := c.Path + c.Object
		if c.ToPath != "" {
			obj += " -> " + c.ToPath + c.ToObject
		}
		note := c.Reason
		if c.BodyErased {
			note = strings.TrimSpace(note + " [body erased]")
		}
		if s := c.Schedule; s != nil {
			note = strings.TrimSpace(note + " [SCHEDULE-STATUS " + s.Status + "]")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Seq, c.Time.Format(time.RFC3339), c.Actor, c.UserAgent,
			c.Op, obj, dash(c.PreviousETag), dash(c.ETag), note)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printDiff prints the property diff between two versions; with one SEQ
// the other side is the next version of the same object.
func printDiff(ctx context.Context, w io.Writer, b audit.Backend, path, spec string) error {
	from, to, two := strings.Cut(spec, "..")
	a, err := strconv.ParseUint(from, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: --diff %q", errUsage, spec)
	}
	var z uint64
	if two {
		if z, err = strconv.ParseUint(to, 10, 64); err != nil {
			return fmt.Errorf("%w: --diff %q", errUsage, spec)
		}
	} else {
		changes, err := b.History(ctx, path, time.Time{})
		if err != nil {
			return err
		}
		if z, err = nextVersion(changes, a); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	va, err := b.Version(ctx, a)
	if err != nil {
		return err
	}
	vz, err := b.Version(ctx, z)
	if err != nil {
		return err
	}
	lines, err := audit.Diff(va.Body, vz.Body)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "--- %d %s\n+++ %d %s\n", a, va.ETag, z, vz.ETag)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return nil
}

// nextVersion returns the event that wrote the version after the one event
// seq wrote, of the same object: PATH may be a collection or a home, whose
// history interleaves many objects.
func nextVersion(changes []audit.Change, seq uint64) (uint64, error) {
	var coll, name string
	for _, c := range changes {
		if c.Seq != seq {
			continue
		}
		switch c.Op {
		case "put":
			coll, name = c.Path, c.Object
		case "move":
			coll, name = c.ToPath, c.ToObject
		default:
			return 0, fmt.Errorf("event %d (%s) wrote no version", seq, c.Op)
		}
	}
	if name == "" {
		return 0, fmt.Errorf("event %d wrote no version here", seq)
	}
	for _, c := range changes {
		if c.Seq > seq && (c.Op == "put" || c.Op == "move") && c.Path == coll && c.Object == name {
			return c.Seq, nil
		}
	}
	return 0, fmt.Errorf("no version of %s%s after %d", coll, name, seq)
}

func runRestore(ctx context.Context, env *auditEnv, args []string) error {
	var asOf string
	var dry, resched bool
	extra := func(fs *flag.FlagSet) {
		fs.StringVar(&asOf, "as-of", "", "the moment: RFC 3339 `time` or sequence number")
		fs.BoolVar(&dry, "dry-run", false, "list what would change, change nothing")
		fs.BoolVar(&resched, "reschedule", false, "send the invitations, cancellations and replies the restored meetings imply (needs --server)")
	}
	return runAudit(ctx, env, "restore", args, 1, extra, func(ctx context.Context, b audit.Backend, pos []string) error {
		if asOf == "" {
			return fmt.Errorf("%w: --as-of is required", errUsage)
		}
		rep, err := b.Restore(ctx, audit.RestoreQuery{Path: pos[0], AsOf: asOf, DryRun: dry, Reschedule: resched})
		if err != nil {
			return err
		}
		return printReport(env.stdout, rep)
	})
}

func printReport(w io.Writer, rep *audit.RestoreReport) error {
	verb := "restored"
	if rep.DryRun {
		verb = "would restore"
	}
	fmt.Fprintf(w, "%s the state after seq %d: %d change(s)\n", verb, rep.At, len(rep.Actions))
	for _, a := range rep.Actions {
		fmt.Fprintln(w, "  "+a)
	}
	if rep.Rescheduled > 0 {
		fmt.Fprintf(w, "rescheduled: %d message(s) delivered\n", rep.Rescheduled)
	}
	for _, e := range rep.RescheduleErrors {
		fmt.Fprintln(w, "  not rescheduled: "+e)
	}
	if len(rep.RescheduleErrors) > 0 {
		return fmt.Errorf("restored, but %d object(s) not rescheduled", len(rep.RescheduleErrors))
	}
	return nil
}

func runCompact(ctx context.Context, env *auditEnv, args []string) error {
	var keep string
	extra := func(fs *flag.FlagSet) {
		fs.StringVar(&keep, "keep", "", "history to keep whole: `90d`, 36h, ...")
	}
	return runAudit(ctx, env, "compact", args, 0, extra, func(ctx context.Context, b audit.Backend, _ []string) error {
		if keep == "" {
			return fmt.Errorf("%w: --keep is required", errUsage)
		}
		res, err := b.Compact(ctx, keep)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "horizon seq %d: %d superseded bodies dropped (event %d)\n", res.Horizon, res.Erased, res.Seq)
		return nil
	})
}

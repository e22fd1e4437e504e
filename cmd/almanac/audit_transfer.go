package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/feed"
)

func runExport(ctx context.Context, env *auditEnv, args []string) error {
	var asOf, vdir, radicale string
	extra := func(fs *flag.FlagSet) {
		fs.StringVar(&asOf, "as-of", "", "export the state at this `moment`")
		fs.StringVar(&vdir, "vdir", "", "write a vdir tree into this new or empty `directory` instead: one file per object under its name, "+
			"with the stored bytes, plus displayname, color and .Radicale.props; a home gives one folder per collection")
		fs.StringVar(&radicale, "radicale", "", "like --vdir, but without the displayname and color files, which Radicale would take for items: "+
			"for a home, the `directory` is Radicale's collection-root/USER")
	}
	return runAudit(ctx, env, "export", args, 1, extra, func(ctx context.Context, b audit.Backend, pos []string) error {
		if vdir != "" && radicale != "" {
			return fmt.Errorf("%w: --vdir and --radicale exclude each other", errUsage)
		}
		if dir := vdir + radicale; dir != "" {
			tree, err := b.ExportTree(ctx, pos[0], asOf)
			if err != nil {
				return err
			}
			n, err := writeVdir(dir, pos[0], tree, vdir != "")
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "exported %d collection(s), %d object(s) to %s\n", len(tree.Collections), n, dir)
			return nil
		}
		data, err := b.Export(ctx, pos[0], asOf)
		if err != nil {
			return err
		}
		_, err = env.stdout.Write(data)
		return err
	})
}

// badSegment reports whether s cannot be one file or folder name below
// the export folder. The engine refuses such names; a tree from a server
// is checked anyway.
func badSegment(s string) bool {
	return s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00")
}

// writeVdir writes tree into dir, which must be empty or missing: the
// collection at path itself into dir, the collections below it into
// dir/<their path below path>/, each with its .Radicale.props, and with
// vdir's displayname and color files when meta is set. It returns the
// count of objects written.
func writeVdir(dir, path string, tree *audit.ImportRequest, meta bool) (int, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return 0, fmt.Errorf("export --vdir %s: the directory is not empty (an export never mixes with older files)", dir)
	}
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	n := 0
	for _, c := range tree.Collections {
		rel, ok := strings.CutPrefix(c.Path, path)
		if !ok || slices.ContainsFunc(strings.Split(strings.TrimSuffix(rel, "/"), "/"), badSegment) && rel != "" {
			return n, fmt.Errorf("export --vdir: %s is not a collection below %s", c.Path, path)
		}
		cdir := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(cdir, 0o700); err != nil {
			return n, err
		}
		names := map[string]bool{}
		for _, it := range c.Items {
			if badSegment(it.Name) {
				return n, fmt.Errorf("export --vdir: %s%s: not a file name", c.Path, it.Name)
			}
			names[it.Name] = true
			if err := os.WriteFile(filepath.Join(cdir, it.Name), it.Body, 0o600); err != nil {
				return n, err
			}
			n++
		}
		props, err := json.Marshal(c.RadicaleProps())
		if err != nil {
			return n, err
		}
		// vdir metadata (displayname, color) and Radicale's props, unless
		// an object has that name.
		for _, f := range []struct{ name, data string }{
			{"displayname", c.DisplayName}, {"color", c.Color}, {".Radicale.props", string(props)},
		} {
			if f.data == "" || names[f.name] || !meta && !strings.HasPrefix(f.name, ".") {
				continue
			}
			if err := os.WriteFile(filepath.Join(cdir, f.name), []byte(f.data), 0o600); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func runImport(ctx context.Context, env *auditEnv, args []string) error {
	var users bool
	extra := func(fs *flag.FlagSet) {
		fs.BoolVar(&users, "users", false, "import a whole Radicale root: collection-root/USER/COLLECTION/ into /dav/home/USER/COLLECTION/ for every user")
	}
	return runAudit(ctx, env, "import", args, -1, extra, func(ctx context.Context, b audit.Backend, pos []string) error {
		im := newImporter(ctx, b)
		var err error
		switch {
		case users && len(pos) == 1:
			err = im.radicaleRoot(pos[0])
		case !users && len(pos) == 2:
			err = im.walk(pos[0], pos[1])
		case users:
			return fmt.Errorf("%w: import --users takes 1 argument (the Radicale root), got %d", errUsage, len(pos))
		default:
			return fmt.Errorf("%w: import takes 2 arguments (PATH and a file or folder), got %d", errUsage, len(pos))
		}
		if err == nil {
			err = im.flush()
		}
		if err != nil {
			return err
		}
		rep := &im.total
		for _, e := range rep.Errors {
			fmt.Fprintln(env.stderr, "error:", e)
		}
		fmt.Fprintf(env.stdout, "imported %d object(s), %d unchanged, %d error(s)\n", rep.Imported, rep.Unchanged, len(rep.Errors))
		if len(rep.NoAccount) > 0 {
			fmt.Fprintf(env.stdout, "no account yet for: %s (add each with `almanac user add NAME`, or serve with --htpasswd and Radicale's users file)\n",
				strings.Join(rep.NoAccount, ", "))
		}
		if len(rep.Errors) > 0 {
			return fmt.Errorf("import: %d object(s) or collection(s) not imported (listed above)", len(rep.Errors))
		}
		return nil
	})
}

// radicaleProps reads Radicale's .Radicale.props (JSON) of dir; nil when
// there is none (a vdir, a plain folder).
func radicaleProps(dir string) map[string]string {
	data, err := os.ReadFile(filepath.Join(dir, ".Radicale.props"))
	if err != nil {
		return nil
	}
	p := map[string]string{}
	if json.Unmarshal(data, &p) != nil {
		return nil
	}
	return p
}

// isCollectionFolder reports whether dir declares itself a collection:
// Radicale's .Radicale.props with a tag, or vdir's displayname or color.
func isCollectionFolder(dir string, radicale map[string]string) bool {
	if radicale["tag"] != "" {
		return true
	}
	for _, f := range []string{"displayname", "color"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

func init() {
	registerServeHook(ServeHook{
		Name: "audit",
		Flags: func(fs *flag.FlagSet) StartFunc {
			backupDir := fs.String("backup-dir", "", "`directory` under which POST /admin/backup may write backups (off when empty)")
			return func(ctx context.Context, env *ServeEnv) (func(context.Context) error, error) {
				dir, err := checkBackupDir(*backupDir)
				if err != nil {
					return nil, err
				}
				// The webhook hook starts later: ask it at request time.
				status := func(id string) audit.WebhookStatus {
					if env.WebhookStatus == nil {
						return audit.WebhookStatus{}
					}
					return env.WebhookStatus(id)
				}
				env.Mux.Handle("/admin/", &audit.Admin{DB: env.DB, Auth: env.Auth, Logger: env.Logger, NewToken: feed.NewToken, BackupDir: dir,
					FileGroup: env.FileGroup, WebhookStatus: status, Scheduler: davScheduler(env)})
				if env.SetAudit != nil {
					env.SetAudit(&audit.User{DB: env.DB, Logger: env.Logger, WebhookStatus: status, Scheduler: davScheduler(env)})
				}
				if env.RunOnce != nil {
					env.RunOnce("reschedule", func(ctx context.Context) { resumeReschedules(ctx, env) })
				}
				return nil, nil
			}
		},
	})
}

var _ http.Handler = (*audit.Admin)(nil)

// resumeReschedules runs, once the DAV handler is built, the items of
// restores' reschedule jobs that a crash interrupted (the log records
// every job and every item done: nothing is sent twice).
func resumeReschedules(ctx context.Context, env *ServeEnv) {
	select {
	case <-env.DAVReady:
	case <-ctx.Done():
		return
	}
	h := env.DAV()
	if h == nil {
		return
	}
	rep, err := audit.ResumeReschedules(ctx, env.DB, h, engine.Meta{Actor: "almanac", UserAgent: "almanac serve"})
	switch {
	case err != nil:
		env.Logger.Error("resume reschedules", "err", err)
	case len(rep.RescheduleErrors) > 0:
		env.Logger.Warn("resumed reschedules", "delivered", rep.Rescheduled, "errors", rep.RescheduleErrors)
	case rep.Rescheduled > 0:
		env.Logger.Info("resumed reschedules", "delivered", rep.Rescheduled)
	}
}

// davScheduler hands a restore with reschedule the DAV handler, built
// after the hooks start: asked at request time.
func davScheduler(env *ServeEnv) func() audit.Rescheduler {
	return func() audit.Rescheduler {
		if env.DAV == nil {
			return nil
		}
		if h := env.DAV(); h != nil {
			return h
		}
		return nil // not a typed nil in the interface
	}
}

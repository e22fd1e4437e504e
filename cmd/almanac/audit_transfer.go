package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine/contentline"
)

func runExport(ctx context.Context, env *auditEnv, args []string) error {
	var asOf string
	extra := func(fs *flag.FlagSet) { fs.StringVar(&asOf, "as-of", "", "export the state at this `moment`") }
	return runAudit(ctx, env, "export", args, 1, extra, func(ctx context.Context, b audit.Backend, pos []string) error {
		data, err := b.Export(ctx, pos[0], asOf)
		if err != nil {
			return err
		}
		_, err = env.stdout.Write(data)
		return err
	})
}

func runImport(ctx context.Context, env *auditEnv, args []string) error {
	return runAudit(ctx, env, "import", args, 2, nil, func(ctx context.Context, b audit.Backend, pos []string) error {
		req, err := readImport(pos[0], pos[1])
		if err != nil {
			return err
		}
		rep, err := b.Import(ctx, req)
		if err != nil {
			return err
		}
		for _, e := range rep.Errors {
			fmt.Fprintln(env.stderr, "error:", e)
		}
		fmt.Fprintf(env.stdout, "imported %d object(s), %d error(s)\n", rep.Imported, len(rep.Errors))
		return nil
	})
}

// readImport reads a file, a folder of .ics/.vcf files (one collection),
// or a folder of such folders (one collection each, Radicale or vdir
// layout) into an import request for the collection path.
func readImport(path, src string) (audit.ImportRequest, error) {
	var req audit.ImportRequest
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	st, err := os.Stat(src)
	if err != nil {
		return req, err
	}
	if !st.IsDir() {
		c, err := readCollectionFiles(path, []string{src})
		if err != nil {
			return req, err
		}
		req.Collections = append(req.Collections, c)
		return req, nil
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return req, err
	}
	var files []string
	var dirs []string
	for _, e := range entries {
		switch {
		case e.IsDir() && !strings.HasPrefix(e.Name(), "."):
			dirs = append(dirs, e.Name())
		case isDataFile(e.Name()):
			files = append(files, filepath.Join(src, e.Name()))
		}
	}
	// A folder with data files is a collection; so is an empty one that
	// says it is (Radicale's tag, vdir's metadata files).
	if len(files) > 0 || isCollectionFolder(src) {
		c, err := readCollectionFiles(path, files)
		if err != nil {
			return req, err
		}
		readFolderProps(src, &c)
		req.Collections = append(req.Collections, c)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		sub, err := readImport(path+d+"/", filepath.Join(src, d))
		if err != nil {
			return req, err
		}
		req.Collections = append(req.Collections, sub.Collections...)
	}
	return req, nil
}

func isDataFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".ics" || ext == ".vcf" || ext == ".vcard"
}

// readCollectionFiles splits every file into items; a file that cannot be
// split becomes an item error, the others go on.
func readCollectionFiles(path string, files []string) (audit.ImportCollection, error) {
	c := audit.ImportCollection{Path: path, Kind: "calendar"}
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return c, err
		}
		var items []audit.Item
		data = contentline.StripBOM(data) // as PUT does
		if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(string(data[:min(len(data), 32)]))), "BEGIN:VCARD") {
			c.Kind = "addressbook"
			items, err = audit.SplitVCards(data)
		} else {
			items, err = audit.SplitCalendar(data)
		}
		if err != nil {
			items = []audit.Item{{Err: fmt.Sprintf("%s: %v", filepath.Base(f), err)}}
		}
		c.Items = append(c.Items, items...)
	}
	return c, nil
}

// isCollectionFolder reports whether dir declares itself a collection:
// Radicale's .Radicale.props with a tag, or vdir's displayname or color.
func isCollectionFolder(dir string) bool {
	if data, err := os.ReadFile(filepath.Join(dir, ".Radicale.props")); err == nil {
		var p map[string]string
		if json.Unmarshal(data, &p) == nil && p["tag"] != "" {
			return true
		}
	}
	for _, f := range []string{"displayname", "color"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// readFolderProps reads Radicale's .Radicale.props (JSON) or vdir's
// displayname and color files.
func readFolderProps(dir string, c *audit.ImportCollection) {
	if data, err := os.ReadFile(filepath.Join(dir, ".Radicale.props")); err == nil {
		var p map[string]string
		if json.Unmarshal(data, &p) == nil {
			c.DisplayName = p["D:displayname"]
			c.Color = p["ICAL:calendar-color"]
			if p["tag"] == "VADDRESSBOOK" {
				c.Kind = "addressbook"
			}
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "displayname")); err == nil {
		c.DisplayName = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile(filepath.Join(dir, "color")); err == nil {
		c.Color = strings.TrimSpace(string(data))
	}
}

func init() {
	registerServeHook(ServeHook{
		Name: "audit",
		Start: func(ctx context.Context, env *ServeEnv) (func(context.Context) error, error) {
			env.Mux.Handle("/admin/", &audit.Admin{DB: env.DB, Auth: env.Auth, Logger: env.Logger})
			if env.SetAudit != nil {
				env.SetAudit(&audit.User{DB: env.DB, Logger: env.Logger})
			}
			return nil, nil
		},
	})
}

var _ http.Handler = (*audit.Admin)(nil)

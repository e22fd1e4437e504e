package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
)

// adminPasswordEnv names the environment variable that gives the first-run
// admin's password instead of a generated one.
const adminPasswordEnv = "ALMANAC_ADMIN_PASSWORD"

// firstRunActor is the actor of the event that creates the first-run admin.
const firstRunActor = "almanac serve first-run"

// firstRunAdmin is the account made on a data directory whose log never
// held one; the password is set when it was generated (to print once).
type firstRunAdmin struct {
	name, generated string
}

// createFirstRunAdmin makes user "admin" (role admin) when serve starts
// without --htpasswd on a log that has never held an account, so that a
// new server can be signed in to. Its password is ALMANAC_ADMIN_PASSWORD,
// or else generated (crypto/rand.Text: 26 upper-case base32 characters,
// 130 bits; without the digits 0, 1 and 8, O, I and B are unambiguous). An account deleted later is never recreated: the
// log remembers it. It returns nil when nothing was created.
func createFirstRunAdmin(ctx context.Context, db *engine.DB, getenv func(string) string) (*firstRunAdmin, error) {
	had, err := db.HadUsers()
	if err != nil || had {
		return nil, err
	}
	a := &firstRunAdmin{name: "admin"}
	pw := getenv(adminPasswordEnv)
	if pw == "" {
		pw = rand.Text()
		a.generated = pw
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return nil, fmt.Errorf("first run: %w", err)
	}
	m := engine.Meta{Actor: firstRunActor, UserAgent: "almanac serve", RequestID: cliMeta("serve").RequestID}
	if err := db.PutUser(ctx, m, engine.User{Name: a.name, PasswordHash: hash, Role: engine.RoleAdmin}); err != nil {
		return nil, fmt.Errorf("first run: create user %s: %w", a.name, err)
	}
	return a, nil
}

// print writes the first-run block: the URL, the account and, when it was
// generated, its password (this once only), and how to add users.
func (a *firstRunAdmin) print(w io.Writer, url, program, dataArg string) {
	line := strings.Repeat("=", 64)
	fmt.Fprintln(w, line)
	fmt.Fprintln(w, "First run: created the admin account.")
	fmt.Fprintf(w, "  URL:      %s\n", url)
	fmt.Fprintf(w, "  user:     %s\n", a.name)
	if a.generated != "" {
		fmt.Fprintf(w, "  password: %s\n", a.generated)
		fmt.Fprintln(w, "  (shown only this once; change it with `"+program+" user passwd admin"+dataArg+"`)")
	} else {
		fmt.Fprintf(w, "  password: the one in %s\n", adminPasswordEnv)
	}
	fmt.Fprintf(w, "Add users (also while the server runs): %s user add NAME%s\n", program, dataArg)
	fmt.Fprintln(w, "Open the URL in a browser to sign in to the web app (calendars, history and undo, device passwords, users),")
	fmt.Fprintln(w, "or give it, with a user name and password, to a CalDAV/CardDAV client.")
	fmt.Fprintln(w, line)
}

// programName is how the user invoked this binary, for commands printed to
// them: a name found in $PATH stays bare, a path under the working
// directory becomes relative ("bin/almanac"), and a binary built by `go
// run` or `go test` (in a go-build temporary directory) is "almanac".
func programName(arg0 string) string {
	if !strings.ContainsRune(arg0, filepath.Separator) {
		return arg0
	}
	abs, err := filepath.Abs(arg0)
	if err != nil {
		return "almanac"
	}
	if strings.Contains(abs, string(filepath.Separator)+"go-build") {
		return "almanac" // go run's or go test's build directory
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(rel, "..") {
			if !strings.ContainsRune(rel, filepath.Separator) {
				return "./" + rel
			}
			return rel
		}
	}
	return abs
}

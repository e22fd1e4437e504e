package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Loader fills a fresh calendar with events 0..n-1 and returns it.
type Loader interface {
	Load(ctx context.Context, c *Client, n int) (Dataset, error)
}

// HTTPLoader loads over plain PUTs with C clients: the honest way, used for
// Almanac (whose storage is a log, not files).
type HTTPLoader struct{ C int }

// Load creates a calendar and PUTs the events into it.
func (l HTTPLoader) Load(ctx context.Context, c *Client, n int) (Dataset, error) {
	ds, err := newDataset(ctx, c, n)
	if err != nil {
		return ds, err
	}
	cfg := Config{N: n, C: max(1, l.C), Budget: 1 << 62}
	res := putMany(ctx, c, cfg, func(i int) (string, []byte) {
		ev := Event(i, 0)
		return ds.Coll + ev.Name, ev.Body
	}, CalendarType)
	if res.Errors > 0 {
		return ds, fmt.Errorf("load %d events over http: %d errors, first: %s", n, res.Errors, res.FirstError)
	}
	return ds, nil
}

// FileLoader loads a peer by writing the events straight into its storage
// directory after creating the calendar over HTTP (PUT-loading 10k events
// at ~25/s would take minutes per size), then lists the collection once,
// untimed, as a warm-up.
type FileLoader struct {
	// Dir maps a collection path to its directory on disk.
	Dir func(coll string) string
	// Commit runs after the files are written (Xandikos commits them to git).
	Commit func(ctx context.Context, dir string) error
}

// Load creates a calendar over HTTP and writes the events into its directory.
func (l FileLoader) Load(ctx context.Context, c *Client, n int) (Dataset, error) {
	ds, err := newDataset(ctx, c, n)
	if err != nil {
		return ds, err
	}
	dir := l.Dir(ds.Coll)
	for i := 0; i < n; i++ {
		ev := Event(i, 0)
		if err := os.WriteFile(filepath.Join(dir, ev.Name), ev.Body, 0o644); err != nil {
			return ds, fmt.Errorf("load %d events into %s: %w", n, dir, err)
		}
	}
	if l.Commit != nil {
		if err := l.Commit(ctx, dir); err != nil {
			return ds, fmt.Errorf("load %d events into %s: %w", n, dir, err)
		}
	}
	// One untimed listing lets the server build what it would have built
	// while accepting PUTs (Radicale's item cache): the timed reads then
	// see the state a PUT-loaded server has.
	if _, err := c.Propfind(ctx, ds.Coll); err != nil {
		return ds, fmt.Errorf("load %d events into %s: warm-up listing: %w", n, dir, err)
	}
	return ds, nil
}

// RadicaleLoader writes items into collection-root/<user>/<calendar>/,
// next to the .Radicale.props that MKCALENDAR wrote.
func RadicaleLoader(s *Server) Loader {
	return FileLoader{Dir: func(coll string) string {
		return filepath.Join(s.DataDir, "collection-root", filepath.FromSlash(strings.Trim(coll, "/")))
	}}
}

// XandikosLoader writes items into the calendar's git working tree and
// commits them, which is how Xandikos's TreeGitStore keeps them.
func XandikosLoader(s *Server) Loader {
	return FileLoader{
		Dir: func(coll string) string {
			return filepath.Join(s.DataDir, filepath.FromSlash(strings.Trim(coll, "/")))
		},
		Commit: func(ctx context.Context, dir string) error {
			for _, args := range [][]string{
				{"add", "-A", "."},
				{"commit", "-q", "-m", "bench load"},
			} {
				cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir,
					"-c", "user.name=bench", "-c", "user.email=bench@almanac.example"}, args...)...)
				if out, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("git %s: %w: %s", args[0], err, out)
				}
			}
			return nil
		},
	}
}

func newDataset(ctx context.Context, c *Client, n int) (Dataset, error) {
	ds := Dataset{Coll: fmt.Sprintf("%sdata-%d/", c.T.CalendarHome, n), N: n}
	if err := c.MkCalendar(ctx, ds.Coll); err != nil {
		return ds, fmt.Errorf("create calendar for %d events: %w", n, err)
	}
	return ds, nil
}

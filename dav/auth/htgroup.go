package auth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/almanac/almanac/engine"
)

// Bounds of an htgroup file: its size and its count of groups. Members are
// bounded by engine.MaxGroupMembers (a group with more is refused whole).
const (
	MaxHtgroupSize   = 1 << 20
	MaxHtgroupGroups = 1000
)

// HtgroupActor is the actor of the group events that GroupFile writes.
const HtgroupActor = "htgroup"

// HtgroupLineError is a line of an htgroup file that was skipped.
type HtgroupLineError struct {
	Line int
	Err  error
}

func (e *HtgroupLineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// ParseHtgroup reads an Apache htgroup file: "group: user user…" lines.
// Blank lines and # comments are skipped; a line without a colon or with
// an empty group name is skipped and reported; a later line of the same
// group adds its members (as Apache does). Members are sorted and unique.
func ParseHtgroup(data []byte) (map[string][]string, []error) {
	groups := map[string][]string{}
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxHtgroupSize)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, members, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		switch {
		case !ok:
			errs = append(errs, &HtgroupLineError{n, errors.New(`no colon (want "group: user user…")`)})
			continue
		case name == "" || strings.ContainsAny(name, " \t"):
			errs = append(errs, &HtgroupLineError{n, fmt.Errorf("bad group name %q", name)})
			continue
		}
		if _, seen := groups[name]; !seen && len(groups) >= MaxHtgroupGroups {
			errs = append(errs, &HtgroupLineError{n, fmt.Errorf("more than %d groups", MaxHtgroupGroups)})
			continue
		}
		groups[name] = append(groups[name], strings.Fields(members)...)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, &HtgroupLineError{n + 1, err})
	}
	for name, ms := range groups {
		slices.Sort(ms)
		groups[name] = slices.Compact(ms)
	}
	return groups, errs
}

// GroupFile keeps the engine's groups in step with an htgroup file: each
// group of the file becomes a group event (actor HtgroupActor) when it
// differs from the engine's, and a group that leaves the file is deleted,
// also when it left while no server ran: the first sync takes the groups
// last set by HtgroupActor (engine.Group.SetBy) for the file's.
// The file is the truth for its groups: edits made to them otherwise are
// undone at the next sync.
type GroupFile struct {
	Path   string
	DB     *engine.DB
	Logger *slog.Logger

	mu      sync.Mutex
	size    int64
	modTime time.Time
	loaded  bool
	set     groupSet
}

// Sync rereads the file when its size or modification time changed (always
// with force) and writes the group events that bring the engine in step.
// Malformed lines and groups the engine refuses are logged and skipped;
// the rest load. A file that cannot be read keeps the groups as they are
// and returns the error.
func (f *GroupFile) Sync(ctx context.Context, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := os.Stat(f.Path)
	if err != nil {
		return fmt.Errorf("auth: htgroup: %w", err)
	}
	if f.loaded && !force && st.Size() == f.size && st.ModTime().Equal(f.modTime) {
		return nil
	}
	file, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("auth: htgroup: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(file, MaxHtgroupSize+1))
	file.Close()
	if err != nil {
		return fmt.Errorf("auth: htgroup: %w", err)
	}
	if len(data) > MaxHtgroupSize {
		return fmt.Errorf("auth: htgroup: %s is larger than %d bytes", f.Path, MaxHtgroupSize)
	}
	groups, errs := ParseHtgroup(data)
	for _, e := range errs {
		f.Logger.Warn("htgroup: line skipped", "file", f.Path, "err", e)
	}
	f.set.db, f.set.logger, f.set.what = f.DB, f.Logger, "htgroup "+f.Path
	f.set.meta = engine.Meta{Actor: HtgroupActor, UserAgent: "almanac htgroup " + f.Path}
	if err := f.set.apply(ctx, groups); err != nil {
		return err
	}
	f.size, f.modTime, f.loaded = st.Size(), st.ModTime(), true
	return nil
}

// Defines reports whether the file defined group name at its last sync.
func (f *GroupFile) Defines(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.set.synced[name]
}

// groupSet keeps the engine's groups of one source (an htgroup file, a
// directory) in step with it: each group of the source becomes a group
// event (actor meta.Actor) when it differs from the engine's, and a group
// that leaves the source is deleted, also when it left while no server
// ran: the first sync takes the groups last set by meta.Actor
// (engine.Group.SetBy) for the source's. The source is the truth for its
// groups: edits made to them otherwise are undone at the next sync.
type groupSet struct {
	db     *engine.DB
	logger *slog.Logger
	meta   engine.Meta
	what   string // the source, in log lines
	loaded bool
	synced map[string]bool // the groups the source defined at its last sync
}

// apply writes the group events that make the engine's groups those of the
// source; the groups it defined before and no longer does are deleted.
func (s *groupSet) apply(ctx context.Context, groups map[string][]string) error {
	v, err := s.db.View()
	if err != nil {
		return fmt.Errorf("auth: %s: %w", s.what, err)
	}
	current := map[string][]string{}
	ours := map[string]bool{} // last set by the source
	gs, err := v.Groups()
	v.Close()
	if err != nil {
		return fmt.Errorf("auth: %s: %w", s.what, err)
	}
	for _, g := range gs {
		current[g.Name] = g.Members
		ours[g.Name] = g.SetBy == s.meta.Actor
		if !s.loaded && g.SetBy == s.meta.Actor {
			// Defined by the source when it was last synced, maybe by a
			// server since stopped: one that left the source meanwhile goes.
			if s.synced == nil {
				s.synced = map[string]bool{}
			}
			s.synced[g.Name] = true
		}
	}
	synced := map[string]bool{}
	names := make([]string, 0, len(groups))
	for name := range groups {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		synced[name] = true
		if old, ok := current[name]; ok && slices.Equal(old, groups[name]) && ours[name] {
			continue // (a group set otherwise, or before set_by was recorded, is set again: the source's now)
		}
		if err := s.db.PutGroup(ctx, s.meta, engine.Group{Name: name, Members: groups[name]}); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.logger.Warn("group skipped", "source", s.what, "group", name, "err", err)
		}
	}
	for name := range s.synced {
		if synced[name] {
			continue
		}
		if _, ok := current[name]; !ok {
			continue
		}
		if err := s.db.DeleteGroup(ctx, s.meta, name); err != nil && !errors.Is(err, engine.ErrNotFound) {
			s.logger.Warn("removing a group failed", "source", s.what, "group", name, "err", err)
			synced[name] = true // try again at the next sync
		}
	}
	s.synced, s.loaded = synced, true
	return nil
}

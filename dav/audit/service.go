package audit

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
)

// Backend is what the CLI drives: Local on a data directory, or Client
// through the admin API of a running server.
type Backend interface {
	History(ctx context.Context, path string, since time.Time) ([]Change, error)
	Version(ctx context.Context, seq uint64) (*Version, error)
	Restore(ctx context.Context, req RestoreQuery) (*RestoreReport, error)
	Undelete(ctx context.Context, path string) (*RestoreReport, error)
	Export(ctx context.Context, path, asOf string) ([]byte, error)
	ExportTree(ctx context.Context, path, asOf string) (*ImportRequest, error)
	Import(ctx context.Context, req ImportRequest) (*ImportReport, error)
	Compact(ctx context.Context, keep string) (*engine.CompactResult, error)
	Purge(ctx context.Context, path string) (*engine.PurgeResult, error)
	Rebuild(ctx context.Context) error
	Verify(ctx context.Context) error
}

// Change is one event of a history, as JSON.
type Change struct {
	Seq          uint64    `json:"seq"`
	Time         time.Time `json:"time"`
	Actor        string    `json:"actor"`
	UserAgent    string    `json:"user_agent,omitempty"`
	RequestID    string    `json:"request_id,omitempty"`
	Op           string    `json:"op"`
	Path         string    `json:"path"`
	Object       string    `json:"object,omitempty"`
	ToPath       string    `json:"to_path,omitempty"`
	ToObject     string    `json:"to_object,omitempty"`
	ETag         string    `json:"etag,omitempty"`
	PreviousETag string    `json:"previous_etag,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	BodyErased   bool      `json:"body_erased,omitempty"`
	PurgedSeqs   []uint64  `json:"purged_seqs,omitempty"`
	// Schedule is set on the writes of implicit scheduling: the iTIP
	// message delivered.
	Schedule *Schedule `json:"schedule,omitempty"`
}

// Schedule is the iTIP message a write of implicit scheduling delivered
// (engine.Schedule).
type Schedule struct {
	Method        string `json:"method"`
	Originator    string `json:"originator"`
	Recipient     string `json:"recipient"`
	RecipientUser string `json:"recipient_user"`
	Status        string `json:"status"`
}

// Version is one object version with its body.
type Version struct {
	Seq  uint64 `json:"seq"`
	Name string `json:"name"`
	ETag string `json:"etag"`
	Body []byte `json:"body"`
}

// RestoreQuery asks for a restore of PATH as of AsOf.
type RestoreQuery struct {
	Path   string `json:"path"`
	AsOf   string `json:"as_of"`
	DryRun bool   `json:"dry_run,omitempty"`
	// Reschedule runs implicit scheduling for the scheduling objects the
	// restore changes (reschedule.go); without it a restore sends nothing.
	Reschedule bool `json:"reschedule,omitempty"`
}

// RestoreReport lists what a restore did or would do.
type RestoreReport struct {
	At      uint64   `json:"at"`
	DryRun  bool     `json:"dry_run,omitempty"`
	Actions []string `json:"actions"`
	// Rescheduled counts the iTIP messages a --reschedule delivered to
	// local users; RescheduleErrors names the objects whose scheduling
	// failed (the restore itself is done).
	Rescheduled      int      `json:"rescheduled,omitempty"`
	RescheduleErrors []string `json:"reschedule_errors,omitempty"`
}

// ImportCollection is a collection to fill, created if missing. Its
// properties, when set, replace those of an existing collection but for
// Components, which only a new calendar takes (RFC 4791 §5.2.3).
type ImportCollection struct {
	Path        string            `json:"path"`
	Kind        string            `json:"kind"` // "calendar" or "addressbook"
	DisplayName string            `json:"display_name,omitempty"`
	Description string            `json:"description,omitempty"`
	Color       string            `json:"color,omitempty"`
	Order       string            `json:"order,omitempty"`
	Timezone    string            `json:"timezone,omitempty"`
	Components  []string          `json:"components,omitempty"`
	Dead        map[string]string `json:"dead,omitempty"` // "{namespace}local" -> the element as XML
	Items       []Item            `json:"items"`
}

// ImportRequest is a set of collections to import into.
type ImportRequest struct {
	Collections []ImportCollection `json:"collections"`
}

// ImportReport gives the outcome per object.
type ImportReport struct {
	// Imported counts the objects written: new ones and changed ones.
	Imported int `json:"imported"`
	// Unchanged counts the objects already there byte for byte (an import
	// run again): nothing was written for them.
	Unchanged int      `json:"unchanged"`
	Errors    []string `json:"errors,omitempty"`
	// NoAccount lists the owners of imported homes that have no account
	// in the engine (they may still sign in through --htpasswd).
	NoAccount []string `json:"no_account,omitempty"`
}

// Local runs every operation on an open engine, recording Meta as who
// did it.
type Local struct {
	DB   *engine.DB
	Meta engine.Meta
	// NewToken makes API tokens (CreateToken); nil: CreateToken fails.
	NewToken TokenMaker
	// WebhookStatus, inside a running server, reports what its delivery
	// loop knows of a webhook (webhook list); nil: nothing.
	WebhookStatus func(id string) WebhookStatus
	// Scheduler, inside a running server, runs the scheduling of a
	// restore with Reschedule; nil: such a restore is refused.
	Scheduler Rescheduler
}

var _ Backend = (*Local)(nil)

// SplitPath turns a URL path into a collection path and an object name
// ("" for a collection): a path ending in "/" names a collection.
func SplitPath(p string) (coll, name string) {
	if strings.HasSuffix(p, "/") {
		return p, ""
	}
	i := strings.LastIndexByte(p, '/')
	return p[:i+1], p[i+1:]
}

// resolve treats a path without its final "/" as a collection when a
// collection ever had it.
func (l *Local) resolve(p string) (string, string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", "", fmt.Errorf("path %q must start with /", p)
	}
	coll, name := SplitPath(p)
	if name == "" {
		return coll, "", nil
	}
	v, err := l.DB.View()
	if err != nil {
		return "", "", err
	}
	defer v.Close()
	if ids, err := v.CollectionIDs(p + "/"); err == nil && len(ids) > 0 {
		return p + "/", "", nil
	}
	return coll, name, nil
}

// History lists the changes of an object, or of a collection and
// everything below it (a home: the whole user), since since.
func (l *Local) History(ctx context.Context, p string, since time.Time) ([]Change, error) {
	coll, name, err := l.resolve(p)
	if err != nil {
		return nil, err
	}
	v, err := l.DB.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	var evs []*engine.Event
	if name != "" {
		evs, err = v.History(coll, name)
	} else {
		evs, err = v.HistoryUnder(coll, since, time.Time{})
	}
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", p, err)
	}
	out := make([]Change, 0, len(evs))
	for _, e := range evs {
		if e.Time.Before(since) {
			continue
		}
		out = append(out, changeOf(e))
	}
	return out, nil
}

func changeOf(e *engine.Event) Change {
	c := Change{
		Seq: uint64(e.Seq), Time: e.Time, Actor: e.Actor, UserAgent: e.UserAgent, RequestID: e.RequestID,
		Op: e.Op.String(), Path: e.CollectionPath, Object: e.Object, ToPath: e.ToCollectionPath, ToObject: e.ToObject,
		ETag: e.ETag, PreviousETag: e.PreviousETag, Reason: e.Reason, BodyErased: e.BodyErased,
	}
	if s := e.Schedule; s != nil {
		c.Schedule = &Schedule{Method: s.Method, Originator: s.Originator, Recipient: s.Recipient, RecipientUser: s.RecipientUser, Status: s.Status}
	}
	for _, s := range e.PurgedSeqs {
		c.PurgedSeqs = append(c.PurgedSeqs, uint64(s))
	}
	return c
}

// Version returns the object version event seq wrote.
func (l *Local) Version(ctx context.Context, seq uint64) (*Version, error) {
	v, err := l.DB.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	o, err := v.Version(engine.Seq(seq))
	if err != nil {
		return nil, err
	}
	return &Version{Seq: seq, Name: o.Name, ETag: o.ETag, Body: o.Body}, nil
}

// Restore brings an object or a collection tree back to its state as of
// q.AsOf.
func (l *Local) Restore(ctx context.Context, q RestoreQuery) (*RestoreReport, error) {
	at, err := engine.ParseAsOf(q.AsOf)
	if err != nil {
		return nil, badRequest(err)
	}
	coll, name, err := l.resolve(q.Path)
	if err != nil {
		return nil, err
	}
	req := engine.RestoreRequest{Path: coll, Name: name, At: at, DryRun: q.DryRun}
	if q.Reschedule && !q.DryRun {
		if err := l.checkReschedule(ctx, req); err != nil {
			return nil, err
		}
		req.Reschedule = true
	}
	res, err := l.DB.Restore(ctx, l.Meta, req)
	if err != nil {
		return nil, fmt.Errorf("restore %s as of %s: %w", q.Path, q.AsOf, err)
	}
	rep := report(res, q.DryRun)
	if q.Reschedule && !q.DryRun {
		l.reschedule(ctx, res, rep)
	}
	return rep, nil
}

func report(res *engine.RestoreResult, dry bool) *RestoreReport {
	r := &RestoreReport{At: uint64(res.At), DryRun: dry, Actions: []string{}}
	for _, a := range res.Actions {
		r.Actions = append(r.Actions, a.String())
	}
	return r
}

// Undelete restores the last deletion of an object or collection.
func (l *Local) Undelete(ctx context.Context, p string) (*RestoreReport, error) {
	coll, name, err := l.resolve(p)
	if err != nil {
		return nil, err
	}
	res, err := l.DB.Undelete(ctx, l.Meta, coll, name)
	if err != nil {
		return nil, fmt.Errorf("undelete %s: %w", p, err)
	}
	return report(res, false), nil
}

// Export returns a calendar as one VCALENDAR or an address book as
// concatenated vCards, as of asOf ("" for now), objects in UID order.
func (l *Local) Export(ctx context.Context, p, asOf string) ([]byte, error) {
	st, err := l.exportState(p, asOf)
	if err != nil {
		return nil, err
	}
	cs := st.Collections[0]
	// Objects go out in UID order (then by content, for cards without
	// one), not in name order: an import names them after their UIDs, and
	// exporting again must give the same bytes whatever the source's
	// clients called them.
	objs := slices.Clone(cs.Objects)
	slices.SortStableFunc(objs, func(a, b *engine.Object) int {
		return cmp.Or(strings.Compare(a.UID, b.UID), bytes.Compare(a.Body, b.Body))
	})
	bodies := make([][]byte, 0, len(objs))
	for _, o := range objs {
		bodies = append(bodies, o.Body)
	}
	var buf bytes.Buffer
	switch cs.Collection.Kind {
	case engine.KindCalendar:
		err = ExportCalendar(&buf, bodies)
	case engine.KindAddressBook:
		err = ExportVCards(&buf, bodies)
	default:
		err = badRequest(fmt.Errorf("export %s: a %s collection holds no calendar or address data", p, cs.Collection.Kind))
	}
	return buf.Bytes(), err
}

// exportState returns the state of the collection at p and below as of
// asOf ("" for now); the collection at p comes first.
func (l *Local) exportState(p, asOf string) (*engine.State, error) {
	coll, name, err := l.resolve(p)
	if err != nil {
		return nil, err
	}
	if name != "" {
		return nil, badRequest(fmt.Errorf("export %s: not a collection", p))
	}
	at := engine.AsOf{}
	if asOf != "" {
		if at, err = engine.ParseAsOf(asOf); err != nil {
			return nil, badRequest(err)
		}
	}
	v, err := l.DB.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	st, err := v.StateAsOf(coll, at)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", p, err)
	}
	if len(st.Collections) == 0 || st.Collections[0].Collection.Path != coll {
		return nil, fmt.Errorf("export %s: %w", p, engine.ErrNotFound)
	}
	return st, nil
}

// ensureCollection creates the collection c (and the home above it) or,
// when it exists with the same kind, gives it c's properties where they
// differ.
func (l *Local) ensureCollection(ctx context.Context, c ImportCollection) error {
	kind := engine.KindCalendar
	if c.Kind == "addressbook" {
		kind = engine.KindAddressBook
	}
	if cur, err := l.DB.Collection(c.Path); err == nil {
		if cur.Kind != kind {
			return fmt.Errorf("import into %s: it is a %s, the source a %s", c.Path, cur.Kind, kind)
		}
		want := importProps(c, cur.Props)
		if sameProps(want, cur.Props) {
			return nil
		}
		err := l.DB.UpdateProps(ctx, l.Meta, c.Path, func(p *engine.Props) error {
			*p = importProps(c, *p)
			return nil
		})
		if err != nil {
			return fmt.Errorf("set the properties of %s: %w", c.Path, err)
		}
		return nil
	}
	owner := ownerOf(c.Path)
	if home := "/dav/home/" + owner + "/"; owner != "" {
		if _, err := l.DB.Collection(home); errors.Is(err, engine.ErrNotFound) {
			_, err := l.DB.CreateCollection(ctx, l.Meta, engine.CollectionSpec{Path: home, Kind: engine.KindHome, Owner: owner})
			if err != nil && !errors.Is(err, engine.ErrExists) {
				return fmt.Errorf("create %s: %w", home, err)
			}
		}
	}
	props := importProps(c, engine.Props{})
	if kind == engine.KindCalendar {
		props.Components = c.Components
		if len(props.Components) == 0 {
			props.Components = engine.AllComponents // as MKCALENDAR gives a new calendar
		}
	}
	spec := engine.CollectionSpec{Path: c.Path, Kind: kind, Owner: owner, Props: props}
	if _, err := l.DB.CreateCollection(ctx, l.Meta, spec); err != nil && !errors.Is(err, engine.ErrExists) {
		return fmt.Errorf("create %s: %w", c.Path, err)
	}
	return nil
}

// dropBadProps removes from c what a PROPPATCH would refuse, and
// describes each: a calendar-timezone that is not one VCALENDAR with one
// VTIMEZONE (RFC 4791 §5.2.2), a dead property that is not one
// well-formed element named as its key. The collection and its objects
// still go in.
func (c *ImportCollection) dropBadProps() []string {
	var dropped []string
	if strings.TrimSpace(c.Timezone) != "" {
		if _, err := query.ParseTimezone(c.Timezone); err != nil {
			dropped = append(dropped, fmt.Sprintf("calendar-timezone left out: %v", err))
			c.Timezone = ""
		}
	}
	dead := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(c.Dead)) {
		v := c.Dead[k]
		if n, err := davxml.Root([]byte(v)); err != nil || "{"+n.Space+"}"+n.Local != k {
			dropped = append(dropped, fmt.Sprintf("dead property %q left out: not one element named so", k))
			continue
		}
		dead[k] = v
	}
	c.Dead = dead
	return dropped
}

// sameProps compares what an import may set.
func sameProps(a, b engine.Props) bool {
	return a.DisplayName == b.DisplayName && a.Description == b.Description && a.Color == b.Color &&
		a.Order == b.Order && a.Timezone == b.Timezone && maps.Equal(a.Dead, b.Dead)
}

// importProps returns cur with the properties c sets.
func importProps(c ImportCollection, cur engine.Props) engine.Props {
	p := cur.Clone()
	for _, f := range []struct {
		dst *string
		v   string
	}{{&p.DisplayName, c.DisplayName}, {&p.Description, c.Description}, {&p.Color, c.Color}, {&p.Order, c.Order}, {&p.Timezone, c.Timezone}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	for k, v := range c.Dead {
		if p.Dead == nil {
			p.Dead = map[string]string{}
		}
		p.Dead[k] = v
	}
	return p
}

// ownerOf returns U of /dav/home/U/..., or "".
func ownerOf(p string) string {
	rest, ok := strings.CutPrefix(p, "/dav/home/")
	if !ok {
		return ""
	}
	u, _, _ := strings.Cut(rest, "/")
	return u
}

// Compact applies the retention policy: keep is "90d", "36h" or any Go
// duration; history older than now-keep loses superseded bodies.
func (l *Local) Compact(ctx context.Context, keep string) (*engine.CompactResult, error) {
	d, err := ParseKeep(keep)
	if err != nil {
		return nil, badRequest(err)
	}
	return l.DB.CompactLog(ctx, l.Meta, time.Now().Add(-d))
}

// ParseKeep reads a retention period: "<n>d" days or a Go duration.
func ParseKeep(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("retention %q: want <days>d or a duration like 36h", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("retention %q: want <days>d or a duration like 36h", s)
	}
	return d, nil
}

// Purge erases an object or collection for good.
func (l *Local) Purge(ctx context.Context, p string) (*engine.PurgeResult, error) {
	coll, name, err := l.resolve(p)
	if err != nil {
		return nil, err
	}
	return l.DB.PurgeContent(ctx, l.Meta, coll, name)
}

// Rebuild derives every projection again from the log.
func (l *Local) Rebuild(ctx context.Context) error { return l.DB.Rebuild(ctx) }

// Verify checks the projections against a replay of the log.
func (l *Local) Verify(ctx context.Context) error { return l.DB.Verify(ctx) }

package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine/recur"
	"github.com/emersion/go-ical"
)

// CalendarQuery is a parsed CALDAV:calendar-query REPORT body (RFC 4791
// §7.8).
type CalendarQuery struct {
	// Filter is the comp-filter on VCALENDAR.
	Filter CompFilter
	// Data is the calendar-data element of DAV:prop; nil when the
	// client did not ask for calendar data.
	Data *CalendarData
	// Timezone is the location of floating times from CALDAV:timezone
	// or CALDAV:timezone-id; nil means the collection's.
	Timezone *time.Location
}

type xmlCalendarQuery struct {
	Prop       *davxml.Prop `xml:"DAV: prop"`
	Filter     *xmlFilter   `xml:"urn:ietf:params:xml:ns:caldav filter"`
	Timezone   *string      `xml:"urn:ietf:params:xml:ns:caldav timezone"`
	TimezoneID *string      `xml:"urn:ietf:params:xml:ns:caldav timezone-id"`
}

// ParseCalendarQuery parses a calendar-query body. The DAV:prop, allprop
// and propname elements other than calendar-data are left to the caller.
//
// Errors are *Error: 400 for malformed XML, 403 with CALDAV:valid-filter,
// CALDAV:supported-collation, CALDAV:valid-timezone or
// CALDAV:supported-calendar-data.
func ParseCalendarQuery(body []byte) (*CalendarQuery, error) {
	var x xmlCalendarQuery
	if err := decode(body, NSCalDAV, "calendar-query", &x); err != nil {
		return nil, err
	}
	if x.Filter == nil || len(x.Filter.CompFilters) != 1 || len(x.Filter.PropFilters) > 0 {
		return nil, errValidFilter("filter must hold exactly one comp-filter")
	}
	f, err := parseCompFilter(x.Filter.CompFilters[0], "", 0)
	if err != nil {
		return nil, err
	}
	q := &CalendarQuery{Filter: f}
	if q.Data, err = ParseCalendarData(x.Prop); err != nil {
		return nil, err
	}
	if q.Timezone, err = parseTimezone(x.Timezone, x.TimezoneID); err != nil {
		return nil, err
	}
	return q, nil
}

// Range returns a time range every matching object must overlap (by the
// RFC 4791 §9.9 rules), for skipping objects by their engine envelope: the
// time-range of a comp-filter on a component directly in VCALENDAR. ok is
// false when there is none; a time-range on VALARM never counts, since
// alarm triggers may lie outside the envelope.
func (q *CalendarQuery) Range() (start, end time.Time, ok bool) {
	for _, c := range q.Filter.Comps {
		if !c.IsNotDefined && c.TimeRange != nil {
			return c.TimeRange.Start, c.TimeRange.End, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// Limits bound the work of queries.
type Limits struct {
	// MaxInstances is the most recurrence instances expanded for one
	// object. Default recur.DefaultMaxInstances.
	MaxInstances int
	// MaxIterations is the most recurrence steps (occurrences computed,
	// kept or not, and overrides applied) of one expansion. Default
	// recur.DefaultMaxIterations.
	MaxIterations int
	// MaxExpandRange is the longest range accepted in expand,
	// limit-recurrence-set and free-busy-query. Default 10 years.
	MaxExpandRange time.Duration
	// MaxConcurrent is the most calendar-query and free-busy-query
	// REPORTs evaluated at once by one server; the others wait for a
	// slot. Zero means 2 × GOMAXPROCS; negative, no limit. (Used by
	// package dav.)
	MaxConcurrent int
	// QueueWait is how long a query waits for a slot before it is
	// answered 503 with Retry-After. Default 5 s. (Used by package dav.)
	QueueWait time.Duration
	// MaxBuffer is how many bytes of matching objects' data one
	// calendar-query holds while it evaluates, before its 207 starts;
	// past it, matches are read and shaped again as they are written.
	// Default 16 MiB. (Used by package dav.)
	MaxBuffer int64
	// ObjectCache is the budget in bytes of the parsed objects kept
	// between queries (ObjectCache). Zero means DefaultObjectCache;
	// negative, none. (Used by package dav.)
	ObjectCache int64
}

// DefaultMaxExpandRange is the default of Limits.MaxExpandRange.
const DefaultMaxExpandRange = 10 * 366 * 24 * time.Hour

func (l Limits) withDefaults() Limits {
	if l.MaxInstances <= 0 {
		l.MaxInstances = recur.DefaultMaxInstances
	}
	if l.MaxExpandRange <= 0 {
		l.MaxExpandRange = DefaultMaxExpandRange
	}
	return l
}

func (l Limits) options(floating *time.Location) recur.Options {
	return recur.Options{Floating: floating, MaxInstances: l.MaxInstances, MaxIterations: l.MaxIterations}
}

// CalendarObject is a stored calendar object parsed for querying.
type CalendarObject struct {
	Body  []byte
	cal   *ical.Calendar
	root  *Node
	nodes map[*ical.Component]*Node
	prep  *prepCache // shared by the ObjectCache's copies of one object
}

// ParseCalendarObject parses a stored calendar object resource.
func ParseCalendarObject(body []byte) (*CalendarObject, error) {
	cal, root, nodes, err := parseCalendarNodes(body)
	if err != nil {
		return nil, err
	}
	return &CalendarObject{Body: body, cal: cal, root: root, nodes: nodes, prep: &prepCache{}}, nil
}

// Match evaluates the query's filter against obj (RFC 4791 §9.7). Floating
// times are in q.Timezone, else in floating (the collection's
// calendar-timezone), else UTC.
//
// The work stops when ctx is done.
//
// Errors: *Error with CALDAV:max-instances when a time-range needs more
// instances than lim allows; ErrUnevaluable when obj's times or recurrence
// cannot be read; ctx's error.
func (q *CalendarQuery) Match(ctx context.Context, obj *CalendarObject, floating *time.Location, lim Limits) (bool, error) {
	if q.Timezone != nil {
		floating = q.Timezone
	}
	if floating == nil {
		floating = time.UTC
	}
	e := &evaluator{ctx: ctx, obj: obj, opts: lim.withDefaults().options(floating),
		cache: map[cacheKey]instanceSet{}}
	ok, err := e.matchComps(obj.cal.Component, q.Filter, 0)
	if err != nil {
		return false, instanceErr(err)
	}
	return ok, nil
}

// ErrUnevaluable: an object's times or recurrence (stored as the client
// sent them: the engine accepts rules, such as RFC 7529 RSCALE, that
// engine/recur cannot expand) cannot be evaluated, so a filter cannot tell
// whether it matches. Callers count it as a match and log it: RFC 4791
// does not say, and leaving it out would hide data from the client.
var ErrUnevaluable = errors.New("query: the object's times or recurrence cannot be evaluated")

// instanceErr maps an error of engine/recur: limits are CALDAV:max-instances,
// a done context stays what it is, anything else is the data's fault.
func instanceErr(err error) error {
	if errors.Is(err, recur.ErrTooManyInstances) || errors.Is(err, recur.ErrUnbounded) {
		return errMaxInstances("%v", err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnevaluable, err)
}

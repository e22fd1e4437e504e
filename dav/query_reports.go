package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
)

// The three query REPORTs, built on package dav/query: it parses the
// bodies into filters, evaluates them (recurrence and time zones through
// engine/recur) and shapes calendar-data and address-data; this file finds
// the objects, skips those whose time envelope cannot match, and streams
// the answer.

// queryProps is the DAV:allprop, DAV:propname or DAV:prop of a query body.
type queryProps struct {
	AllProp  *struct{}    `xml:"DAV: allprop"`
	PropName *struct{}    `xml:"DAV: propname"`
	Prop     *davxml.Prop `xml:"DAV: prop"`
}

// queryTargets lists the objects a query REPORT applies to: the object of
// the Request-URI, or the members of the collection of kind. opts skips
// objects by envelope.
func queryTargets(rq *reportRequest, kind engine.Kind, report string, opts engine.ListOptions, fn func(*engine.Object) error) error {
	if rq.Coll == nil || rq.Coll.Kind != kind {
		return httpErrorf(http.StatusForbidden, "%s applies to a %s collection or its members", report, kind)
	}
	if rq.Res.kind == resObject {
		o, err := rq.View.Object(rq.Coll.Path, rq.Res.obj.Name, true)
		if err != nil {
			return fmt.Errorf("read %s: %w", rq.Res.path, err)
		}
		if !o.Envelope.Overlaps(opts.Start, opts.End) {
			return nil
		}
		return fn(o)
	}
	for o, err := range rq.View.Objects(rq.Coll.Path, opts) {
		if err != nil {
			return fmt.Errorf("list %s: %w", rq.Coll.Path, err)
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// collectionTimezone is the CALDAV:calendar-timezone of c as a location;
// nil when unset or unusable.
func collectionTimezone(c *engine.Collection) *time.Location {
	if c == nil || c.Props.Timezone == "" {
		return nil
	}
	return query.TimezoneFromText(c.Props.Timezone)
}

// eventRange returns the time-range of q when q is the most common
// query — VCALENDAR > VEVENT with a time-range and nothing else — the
// one whose answer an object's envelope or spacing may decide.
func eventRange(q *query.CalendarQuery) (*query.TimeRange, bool) {
	f := q.Filter
	if f.Name != "VCALENDAR" || f.IsNotDefined || f.TimeRange != nil || len(f.Props) != 0 || len(f.Comps) != 1 {
		return nil, false
	}
	c := f.Comps[0]
	if c.Name != "VEVENT" || c.IsNotDefined || c.TimeRange == nil || len(c.Props) != 0 || len(c.Comps) != 0 {
		return nil, false
	}
	return c.TimeRange, true
}

// envelopeDecides reports whether o matches q without parsing it. That
// holds for a query of eventRange when o is a VEVENT whose stored
// envelope lies strictly inside the range: the envelope bounds every
// instance (with margins for floating times), and a bounded envelope
// means at least one instance exists (an object with none has an
// unbounded one), so some instance overlaps the range (RFC 4791 §9.9).
// It holds too when the spacing the object cache keeps for o's version
// (a recurring series read by an earlier query: query.ObjectCache.Spacing)
// proves that an instance starts inside the range (recur.Spacing.Hits).
// Everything else is parsed and evaluated.
func (h *Handler) envelopeDecides(q *query.CalendarQuery, coll string, o *engine.Object) bool {
	tr, ok := eventRange(q)
	if !ok || o.Component != "VEVENT" {
		return false
	}
	e := o.Envelope
	if !e.Start.IsZero() && !e.End.IsZero() && (tr.Start.IsZero() || e.Start.After(tr.Start)) && (tr.End.IsZero() || e.End.Before(tr.End)) {
		return true
	}
	s, ok := h.objects.Spacing(coll, o.Name, o.ETag)
	return ok && s.Hits(tr.Start, tr.End)
}

// maxQuerySpacings bounds the series spacings one calendar-query reads
// (keepSpacing), so that a collection's first query after a start pays
// for a bounded number of them and the queries after it read the rest.
const maxQuerySpacings = 256

// keepSpacing keeps, for a later query's envelopeDecides, the spacing of
// obj (o's parsed version, which q was just evaluated against) when q is
// a query of eventRange and o a recurring VEVENT whose spacing is not
// kept yet: read once per version of a series, over the years around
// the window asked, under the query's recurrence work limit. It reports
// whether it read one.
func (h *Handler) keepSpacing(ctx context.Context, q *query.CalendarQuery, coll string, o *engine.Object, obj *query.CalendarObject) bool {
	tr, ok := eventRange(q)
	if !ok || o.Component != "VEVENT" || h.objects == nil {
		return false
	}
	if _, ok := h.objects.Spacing(coll, o.Name, o.ETag); ok {
		return false
	}
	t := tr.Start
	if t.IsZero() {
		t = tr.End
	}
	s, recurs := obj.SeriesSpacing(ctx, t, h.limits)
	if recurs && ctx.Err() == nil { // a stopped expansion tells nothing for good
		h.objects.KeepSpacing(coll, o.Name, o.ETag, s)
	}
	return recurs
}

// onlyETag reports whether pr asks for DAV:getetag alone, which an object
// the engine's time index names has (engine.ListOptions.FromIndex).
func (pr propRequest) onlyETag() bool {
	return !pr.allProp && !pr.propName && len(pr.include) == 0 && len(pr.names) > 0 &&
		!slices.ContainsFunc(pr.names, func(n xml.Name) bool { return n != davxml.PropGetETag })
}

// queryMatch is one object of a query answer and the data to send for it
// (nil: the stored body). Past the request's buffer budget a match keeps
// only the object's record without its body (reread): it is read again
// from the same View, and shaped again, when it is written.
type queryMatch struct {
	obj    *engine.Object
	data   []byte
	reread bool
}

// calendarQuery answers CALDAV:calendar-query (RFC 4791 §7.8). Matches
// are evaluated before the 207 starts, so that a filter error or an
// expansion over the limits still gets its own status; the data held
// meanwhile is bounded by Limits.MaxBuffer, and the evaluation by a
// query slot (query_slots.go) and the request's context.
//
// An object that cannot be parsed or evaluated (stored before today's
// checks, or past dav/query's parse limits) is counted as a match, sent
// as stored and logged: never left out silently.
func (h *Handler) calendarQuery(w http.ResponseWriter, r *http.Request, rq *reportRequest) error {
	q, err := query.ParseCalendarQuery(rq.Body)
	if err != nil {
		return err
	}
	var qp queryProps
	if err := decodeXML(rq.Body, &qp); err != nil {
		return err
	}
	pr := propRequestOf(qp.AllProp, qp.PropName, qp.Prop)
	floating := collectionTimezone(rq.Coll)
	if q.Timezone != nil {
		floating = q.Timezone
	}
	opts := engine.ListOptions{Bodies: true}
	if start, end, ok := q.Range(); ok {
		opts.Start, opts.End = start, end
	}
	wantsData := pr.wantsData(engine.KindCalendar)
	shaped := q.Data.Shaped() && wantsData
	reads := &cachedReads{cache: h.objects, view: rq.View, coll: rq.Coll.Path}
	if !wantsData {
		// what the envelope decides is answered without the body
		reads.want = func(o *engine.Object) bool { return !h.envelopeDecides(q, rq.Coll.Path, o) }
		if pr.onlyETag() {
			// and, asking only the ETag, without the object's record
			opts.FromIndex = func(o *engine.Object) bool { return h.envelopeDecides(q, rq.Coll.Path, o) }
		}
	}
	opts.NeedBody = reads.need
	release, err := h.acquireQuery(w, r)
	if err != nil {
		return err
	}
	defer release()
	ctx := r.Context()
	// shape returns the data to send for a match o, nil for the stored body.
	shape := func(o *engine.Object, obj *query.CalendarObject) ([]byte, error) {
		if !shaped || obj == nil {
			return nil, nil
		}
		return h.renderCalendar(ctx, rq.Coll, o, obj, q.Data, floating)
	}
	var matches []queryMatch
	budget := h.maxQueryBuffer()
	spacings := maxQuerySpacings // left to read
	add := func(o *engine.Object, data []byte) {
		size := int64(len(data))
		if wantsData && data == nil {
			size = int64(len(o.Body))
		}
		m := queryMatch{obj: o, data: data}
		if budget -= size; budget < 0 {
			bare := *o
			bare.Body = nil
			m = queryMatch{obj: &bare, reread: true}
		} else if !wantsData {
			bare := *o
			bare.Body = nil
			m.obj = &bare
		}
		matches = append(matches, m)
	}
	err = queryTargets(rq, engine.KindCalendar, "calendar-query", opts, func(o *engine.Object) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		obj, err := reads.fill(o)
		if err != nil {
			return err
		}
		if !shaped && h.envelopeDecides(q, rq.Coll.Path, o) {
			add(o, nil)
			return nil
		}
		if obj, err = reads.parse(o, obj); err != nil {
			h.log.Warn("calendar-query: object cannot be parsed; counted as a match and sent as stored", "path", rq.Coll.Path+o.Name, "err", err)
			add(o, nil)
			return nil
		}
		ok, err := q.Match(ctx, obj, floating, h.limits)
		if errors.Is(err, query.ErrUnevaluable) {
			h.log.Warn("calendar-query: object cannot be evaluated; counted as a match", "path", rq.Coll.Path+o.Name, "err", err)
			ok, err = true, nil
		} else if err == nil && !shaped && spacings > 0 && h.keepSpacing(ctx, q, rq.Coll.Path, o, obj) {
			spacings--
		}
		if err != nil || !ok {
			return err
		}
		data, err := shape(o, obj)
		if err != nil {
			return err
		}
		add(o, data)
		return nil
	})
	if err != nil {
		return err
	}
	// The slot bounds evaluation; writing to a slow client holds none.
	// Matches past the buffer are shaped again below, work already done
	// (and bounded) once under the slot.
	release()
	ms, end := startMultistatus(w, r)
	for _, m := range matches {
		if m.reread {
			o, err := rq.View.Object(rq.Coll.Path, m.obj.Name, true)
			if err != nil {
				return fmt.Errorf("read %s%s again: %w", rq.Coll.Path, m.obj.Name, err)
			}
			m.obj = o
			if obj, err := h.objects.Parse(objectVersion(rq.Coll.Path, o), o.Body); err == nil {
				if m.data, err = shape(o, obj); err != nil {
					return err
				}
			}
		}
		if err := h.objectResponse(ms, rq.User, rq.Coll, m.obj, pr, m.data); err != nil {
			return err
		}
	}
	return end()
}

// freeBusyQuery answers CALDAV:free-busy-query (RFC 4791 §7.10) with a
// text/calendar VFREEBUSY over the requested range, counting the
// collection owner's answers as the free-busy POST does (addBusy). An object that cannot
// be parsed or evaluated is logged and counted in a COMMENT of the
// answer, which is then known to be incomplete.
func (h *Handler) freeBusyQuery(w http.ResponseWriter, r *http.Request, rq *reportRequest) error {
	q, err := query.ParseFreeBusyQuery(rq.Body)
	if err != nil {
		return err
	}
	fb, err := query.NewFreeBusy(q.Range, h.limits)
	if err != nil {
		return err
	}
	if rq.Coll != nil {
		if fb.Self, err = h.selfOf(rq.View, rq.Coll.Owner); err != nil {
			return err
		}
	}
	release, err := h.acquireQuery(w, r)
	if err != nil {
		return err
	}
	defer release()
	ctx := r.Context()
	floating := collectionTimezone(rq.Coll)
	var avail query.Availability // the VAVAILABILITY resources (RFC 7953 §7.2.2)
	reads := &cachedReads{cache: h.objects, view: rq.View, coll: rq.Coll.Path}
	opts := engine.ListOptions{Bodies: true, Start: q.Range.Start, End: q.Range.End, NeedBody: reads.need}
	err = queryTargets(rq, engine.KindCalendar, "free-busy-query", opts, func(o *engine.Object) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		obj, done, err := reads.addSimple(fb, o, floating)
		if err != nil || done {
			return err
		}
		if obj, err = reads.parse(o, obj); err != nil {
			h.log.Warn("free-busy-query: object cannot be parsed; reported in a COMMENT", "path", rq.Coll.Path+o.Name, "err", err)
			fb.Unevaluated++
			return nil
		}
		if o.Component == engine.CompAvailability {
			if err := avail.Add(obj, floating); err != nil {
				h.log.Warn("free-busy-query: availability left out; reported in a COMMENT", "path", rq.Coll.Path+o.Name, "err", err)
				fb.Unevaluated++
			}
			return nil
		}
		err = fb.Add(ctx, obj, floating)
		if errors.Is(err, query.ErrUnevaluable) {
			h.log.Warn("free-busy-query: object cannot be evaluated; reported in a COMMENT", "path", rq.Coll.Path+o.Name, "err", err)
			fb.Unevaluated++
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := addAvailability(ctx, fb, &avail); err != nil {
		return err
	}
	release()
	out, closeBody := responseBody(w, r, http.StatusOK, "text/calendar; charset=utf-8")
	if _, err := out.Write(fb.Render(time.Now())); err != nil {
		return fmt.Errorf("write free-busy: %w", err)
	}
	return closeBody()
}

// addressbookQuery answers CARDDAV:addressbook-query (RFC 6352 §8.6).
// With CARDDAV:limit, the answer stops after nresults matches and the
// Request-URI gets a 507 response (RFC 6352 §8.6.1, RFC 5842 style
// truncation).
func (h *Handler) addressbookQuery(w http.ResponseWriter, r *http.Request, rq *reportRequest) error {
	q, err := query.ParseAddressbookQuery(rq.Body)
	if err != nil {
		return err
	}
	var qp queryProps
	if err := decodeXML(rq.Body, &qp); err != nil {
		return err
	}
	pr := propRequestOf(qp.AllProp, qp.PropName, qp.Prop)
	wantData := pr.wantsData(engine.KindAddressBook)
	var matches []queryMatch
	truncated := false
	errFull := errors.New("limit reached")
	err = queryTargets(rq, engine.KindAddressBook, "addressbook-query", engine.ListOptions{Bodies: true}, func(o *engine.Object) error {
		card, err := query.ParseCard(o.Body)
		if err != nil {
			h.log.Warn("addressbook-query: unreadable object", "path", rq.Coll.Path+o.Name, "err", err)
			return nil
		}
		if !q.Match(card) {
			return nil
		}
		if q.Limit > 0 && len(matches) == q.Limit {
			truncated = true
			return errFull
		}
		m := queryMatch{obj: o}
		if wantData {
			m.data = q.Data.Render(card)
		}
		matches = append(matches, m)
		return nil
	})
	if err != nil && !errors.Is(err, errFull) {
		return err
	}
	ms, end := startMultistatus(w, r)
	for _, m := range matches {
		if err := h.objectResponse(ms, rq.User, rq.Coll, m.obj, pr, m.data); err != nil {
			return err
		}
	}
	if truncated {
		if err := ms.StatusResponse(rq.Res.href(), http.StatusInsufficientStorage); err != nil {
			return err
		}
	}
	return end()
}

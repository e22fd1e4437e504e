package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/dav/sched"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/itip"
	"github.com/emersion/go-ical"
)

// Free-busy lookup (RFC 6638 §5): the owner POSTs a VFREEBUSY REQUEST to
// their schedule outbox and gets a CALDAV:schedule-response with, for
// each ATTENDEE, the busy time of that user's calendars whose
// schedule-calendar-transp is opaque, or 3.7 for an address no user has.
// By default every authenticated user may look up every user's busy time,
// the times only (RFC 6638 §6.1.1.3 schedule-query-freebusy on the inbox,
// which CalendarServer grants every authenticated user); a user who sets
// the inbox property A:free-busy-private shows only the calendars the
// asker holds read-free-busy on, and an asker who holds it on none gets
// 3.8 (no authority).

// postOutbox answers a POST to a schedule outbox: its owner's, or a
// write delegate's acting for the owner (CALDAV:schedule-send).
func (h *Handler) postOutbox(w http.ResponseWriter, r *http.Request, res *resource) error {
	if !res.acc.has(privScheduleSendFreeBusy) {
		return precondition(http.StatusForbidden, davxml.D("need-privileges"), "only %s and their write delegates may POST to this outbox (CALDAV:schedule-send)", res.coll.Owner)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "text/calendar" {
		return errUnsupportedMediaType(davxml.C("supported-calendar-data"), r.Header.Get("Content-Type"))
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := parseFreeBusyRequest(body)
	if err != nil {
		return precondition(http.StatusBadRequest, davxml.C("valid-scheduling-message"), "%v", err)
	}
	if len(req.attendees) > sched.DefaultMaxAttendees {
		return precondition(http.StatusForbidden, davxml.C("max-attendees-per-instance"), "%d attendees, at most %d", len(req.attendees), sched.DefaultMaxAttendees)
	}
	if _, err := query.NewFreeBusy(req.tr, h.limits); err != nil { // the range's bound
		return err
	}
	v, err := h.db.View()
	if err != nil {
		return fmt.Errorf("open view: %w", err)
	}
	defer v.Close()
	dir := directory{h}
	mine, err := dir.Addresses(v, res.coll.Owner) // a delegate asks for the owner
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(mine, func(m string) bool { return itip.NormalizeAddress(m) == itip.NormalizeAddress(req.organizer) }) {
		return precondition(http.StatusForbidden, davxml.C("organizer-allowed"), "the ORGANIZER %s is none of the addresses of %s", req.organizer, res.coll.Owner)
	}
	release, err := h.acquireQuery(w, r)
	if err != nil {
		return err
	}
	defer release()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<C:schedule-response xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">`)
	for _, a := range req.attendees {
		user, err := dir.User(v, a)
		if err != nil {
			return err
		}
		b.WriteString("<C:response><C:recipient><D:href>" + davxml.EscapeString(a) + "</D:href></C:recipient>")
		if user == "" {
			b.WriteString("<C:request-status>3.7;Invalid calendar user</C:request-status></C:response>")
			continue
		}
		cals, ok, err := h.freeBusyCalendars(v, res.coll.Owner, user)
		if err != nil {
			return err
		}
		if !ok {
			b.WriteString("<C:request-status>3.8;No authority</C:request-status></C:response>")
			continue
		}
		data, err := h.busyOf(r, v, user, cals, req, a)
		if err != nil {
			return err
		}
		b.WriteString("<C:request-status>2.0;Success</C:request-status><C:calendar-data>" + davxml.EscapeString(string(data)) + "</C:calendar-data></C:response>")
	}
	b.WriteString("</C:schedule-response>\n")
	release()
	out, closeBody := responseBody(w, r, http.StatusOK, "application/xml; charset=utf-8")
	if _, err := out.Write([]byte(b.String())); err != nil {
		return fmt.Errorf("write schedule-response: %w", err)
	}
	return closeBody()
}

// propFreeBusyPrivate is Almanac's own inbox property: set (to anything
// but "false"), the inbox's owner shows their busy time only to whoever
// holds read-free-busy on a calendar of theirs (and only that calendar's).
var propFreeBusyPrivate = xml.Name{Space: davxml.NSAlmanac, Local: "free-busy-private"}

// freeBusyPrivate reports whether user set A:free-busy-private.
func freeBusyPrivate(v *engine.View, user string) bool {
	in, err := v.Collection(inboxPath(user))
	if err != nil {
		return false
	}
	x, ok := in.Props.Dead[deadKey(propFreeBusyPrivate)]
	if !ok {
		return false
	}
	var e struct {
		Text string `xml:",chardata"`
	}
	return xml.Unmarshal([]byte(x), &e) != nil || !strings.EqualFold(strings.TrimSpace(e.Text), "false")
}

// freeBusyCalendars returns the calendars of user whose busy time asker
// may see: all of them unless user's free-busy is private, then those
// asker holds read-free-busy on (engine.View.Access); ok is false when
// asker may see none of a private user's.
func (h *Handler) freeBusyCalendars(v *engine.View, asker, user string) (cals []string, ok bool, err error) {
	cals, err = directory{h}.Calendars(v, user)
	if err != nil || asker == user || !freeBusyPrivate(v, user) {
		return cals, err == nil, err
	}
	var out []string
	for _, p := range cals {
		res, err := v.Access(asker, p)
		if err != nil {
			return nil, false, fmt.Errorf("resolve access of %s to %s: %w", asker, p, err)
		}
		if res.Access >= engine.AccessFreeBusy {
			out = append(out, p)
		}
	}
	return out, len(out) > 0, nil
}

// busyOf is the VFREEBUSY REPLY of user (as attendee) for req: the busy
// time of cals, the calendars of user's the asker may see.
func (h *Handler) busyOf(r *http.Request, v *engine.View, user string, cals []string, req *freeBusyRequest, attendee string) ([]byte, error) {
	ctx := r.Context()
	fb, err := query.NewFreeBusy(req.tr, h.limits)
	if err != nil {
		return nil, err
	}
	if err := h.addBusy(ctx, v, user, cals, fb, req.tr, ""); err != nil {
		return nil, err
	}
	// The answer of RFC 6638 §5 is an iTIP VFREEBUSY REPLY: Render's
	// VFREEBUSY with METHOD, UID, ORGANIZER and the ATTENDEE.
	now := time.Now()
	if h.sched.Now != nil {
		now = h.sched.Now()
	}
	text := string(fb.Render(now))
	text = strings.Replace(text, "BEGIN:VFREEBUSY\r\n", "BEGIN:VFREEBUSY\r\nUID:"+req.uid+"\r\nORGANIZER:"+req.organizer+"\r\nATTENDEE:"+attendee+"\r\n", 1)
	text = strings.Replace(text, "VERSION:2.0\r\n", "VERSION:2.0\r\nMETHOD:REPLY\r\n", 1)
	return sched.Fold([]byte(text)), nil
}

// addBusy adds to fb the busy time in tr of user's availability (the
// inbox's calendar-availability and the VAVAILABILITY resources of cals,
// RFC 7953 §7.2) and of user's calendars cals that are opaque, leaving out the objects whose
// UID is skipUID (when not ""): what user declined is not busy, what
// they accepted tentatively BUSY-TENTATIVE (query.FreeBusy.Self).
func (h *Handler) addBusy(ctx context.Context, v *engine.View, user string, cals []string, fb *query.FreeBusy, tr query.TimeRange, skipUID string) error {
	avail := inboxAvailability(v, user)
	self, err := h.selfOf(v, user)
	if err != nil {
		return err
	}
	fb.Self = self
	for _, p := range cals {
		c, err := v.Collection(p)
		if err != nil {
			continue
		}
		if x, ok := c.Props.Dead[deadKey(propScheduleTransp)]; ok && strings.Contains(x, "transparent") {
			continue
		}
		floating := collectionTimezone(c)
		reads := &cachedReads{cache: h.objects, view: v, coll: p}
		for o, err := range v.Objects(p, engine.ListOptions{Bodies: true, Start: tr.Start, End: tr.End, NeedBody: reads.need}) {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if skipUID != "" && o.UID == skipUID {
				continue
			}
			obj, done, err := reads.addSimple(fb, o, floating)
			if err != nil {
				return err
			}
			if done {
				continue
			}
			obj, err = reads.parse(o, obj)
			if err != nil {
				fb.Unevaluated++
				continue
			}
			if o.Component == engine.CompAvailability {
				if avail.Add(obj, floating) != nil {
					fb.Unevaluated++
				}
				continue
			}
			if err := fb.Add(ctx, obj, floating); errors.Is(err, query.ErrUnevaluable) {
				fb.Unevaluated++
			} else if err != nil {
				return err
			}
		}
	}
	return addAvailability(ctx, fb, avail)
}

// addAvailability adds to fb the busy time of avail (query.AddAvailability);
// an availability that cannot be evaluated counts in fb.Unevaluated.
func addAvailability(ctx context.Context, fb *query.FreeBusy, avail *query.Availability) error {
	if err := fb.AddAvailability(ctx, avail, nil); unevaluable(err) {
		fb.Unevaluated++
	} else if err != nil {
		return err
	}
	return nil
}

// selfOf returns query.FreeBusy.Self for user: whether an address is one
// of user's calendar-user-address-set.
func (h *Handler) selfOf(v *engine.View, user string) (func(string) bool, error) {
	addrs, err := directory{h}.Addresses(v, user)
	if err != nil {
		return nil, err
	}
	self := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		self[itip.NormalizeAddress(a)] = true
	}
	return func(a string) bool { return self[itip.NormalizeAddress(a)] }, nil
}

// freeBusyRequest is a VFREEBUSY REQUEST (RFC 5546 §3.3.1).
type freeBusyRequest struct {
	tr        query.TimeRange
	uid       string
	organizer string
	attendees []string
}

// parseFreeBusyRequest reads the body of a free-busy POST: METHOD:REQUEST
// and one VFREEBUSY with DTSTART, DTEND, ORGANIZER and ATTENDEEs.
func parseFreeBusyRequest(body []byte) (*freeBusyRequest, error) {
	cal, err := engine.ParseCalendar(body)
	if err != nil {
		return nil, err
	}
	if m := cal.Props.Get(ical.PropMethod); m == nil || !strings.EqualFold(m.Value, "REQUEST") {
		return nil, errors.New("a free-busy request has METHOD:REQUEST")
	}
	var fb *ical.Component
	for _, c := range cal.Children {
		if c.Name == ical.CompFreeBusy {
			if fb != nil {
				return nil, errors.New("more than one VFREEBUSY")
			}
			fb = c
		}
	}
	if fb == nil {
		return nil, errors.New("no VFREEBUSY")
	}
	req := &freeBusyRequest{}
	for name, dst := range map[string]*time.Time{ical.PropDateTimeStart: &req.tr.Start, ical.PropDateTimeEnd: &req.tr.End} {
		p := fb.Props.Get(name)
		if p == nil {
			return nil, fmt.Errorf("VFREEBUSY without %s", name)
		}
		t, err := p.DateTime(time.UTC)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		*dst = t
	}
	if !req.tr.End.After(req.tr.Start) {
		return nil, errors.New("DTEND is not after DTSTART")
	}
	if p := fb.Props.Get(ical.PropUID); p != nil {
		req.uid = safeValue(p.Value)
	}
	if p := fb.Props.Get(ical.PropOrganizer); p != nil {
		req.organizer = safeValue(p.Value)
	}
	if req.organizer == "" {
		return nil, errors.New("VFREEBUSY without ORGANIZER")
	}
	for _, p := range fb.Props.Values(ical.PropAttendee) {
		if a := safeValue(p.Value); a != "" {
			req.attendees = append(req.attendees, a)
		}
	}
	if len(req.attendees) == 0 {
		return nil, errors.New("VFREEBUSY without ATTENDEE")
	}
	return req, nil
}

// safeValue is v without line breaks (it is written into content lines).
func safeValue(v string) string {
	return strings.TrimSpace(strings.NewReplacer("\r", "", "\n", "").Replace(v))
}

package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// Scheduling collections and properties (RFC 6638 §2 and §9): every user
// has a schedule inbox and outbox in their home, named in their principal
// by schedule-inbox-URL and schedule-outbox-URL. The inbox's
// schedule-default-calendar-URL (settable) names the calendar invitations
// are processed into; a calendar's schedule-calendar-transp (settable)
// says whether its events count in free-busy. Both are stored as dead
// properties and have a live default when unset.

// Names of the scheduling collections in a home (as CalendarServer and
// SabreDAV name them).
const (
	inboxName  = "inbox"
	outboxName = "outbox"
)

var (
	propScheduleInboxURL    = davxml.C("schedule-inbox-URL")
	propScheduleOutboxURL   = davxml.C("schedule-outbox-URL")
	propScheduleDefaultCal  = davxml.C("schedule-default-calendar-URL")
	propScheduleTransp      = davxml.C("schedule-calendar-transp")
	propScheduleTag         = davxml.C("schedule-tag")
	condValidDefaultCalURL  = davxml.C("valid-schedule-default-calendar-URL")
	condValidScheduleTransp = davxml.C("valid-schedule-calendar-transp")
)

// inboxPath and outboxPath are the paths of user's scheduling collections.
func inboxPath(user string) string  { return homePath(user) + inboxName + "/" }
func outboxPath(user string) string { return homePath(user) + outboxName + "/" }

// scheduleSpecs are the scheduling collections of user's home.
func scheduleSpecs(user string) []engine.CollectionSpec {
	return []engine.CollectionSpec{
		{Path: inboxPath(user), Kind: engine.KindInbox, Owner: user, Props: engine.Props{DisplayName: "Inbox"}},
		{Path: outboxPath(user), Kind: engine.KindOutbox, Owner: user, Props: engine.Props{DisplayName: "Outbox"}},
	}
}

// ensureScheduling creates user's scheduling collections in a home made
// before they existed; ErrExists (a concurrent request, or a collection of
// the name the user made) counts as success.
func ensureScheduling(ctx context.Context, db *engine.DB, user string, m engine.Meta) error {
	if _, err := db.CollectionSummary(inboxPath(user)); err == nil {
		return nil
	} else if !errors.Is(err, engine.ErrNotFound) {
		return fmt.Errorf("look up the inbox of %s: %w", user, err)
	}
	for _, spec := range scheduleSpecs(user) {
		if _, err := db.CreateCollection(ctx, m, spec); err != nil && !errors.Is(err, engine.ErrExists) {
			return fmt.Errorf("create %s: %w", spec.Path, err)
		}
	}
	return nil
}

// principalScheduleProp computes the scheduling properties of user
// principal name.
func principalScheduleProp(name string, n xml.Name) (davxml.PropValue, bool) {
	switch n {
	case propScheduleInboxURL:
		return prop(n, hrefValue(inboxPath(name))), true
	case propScheduleOutboxURL:
		return prop(n, hrefValue(outboxPath(name))), true
	}
	return davxml.PropValue{}, false
}

// scheduleCollectionProp computes the scheduling properties of collection
// c that are not set as dead properties: an inbox's default calendar, a
// calendar's transparency (opaque).
func scheduleCollectionProp(c *engine.Collection, n xml.Name) (davxml.PropValue, bool) {
	if _, set := c.Props.Dead[deadKey(n)]; set {
		return davxml.PropValue{}, false
	}
	switch {
	case c.Kind == engine.KindInbox && n == propScheduleDefaultCal:
		return prop(n, hrefValue(homePath(c.Owner)+defaultCalendar+"/")), true
	case c.Kind == engine.KindCalendar && n == propScheduleTransp:
		return prop(n, "<C:opaque/>"), true
	}
	return davxml.PropValue{}, false
}

// checkScheduleProp checks a PROPPATCH of a scheduling property of a
// collection of kind: schedule-calendar-transp holds opaque or transparent
// (on a calendar), schedule-default-calendar-URL one href (on an inbox).
func checkScheduleProp(kind engine.Kind, e davxml.Elem) *propError {
	switch e.XMLName {
	case propScheduleTransp:
		if kind != engine.KindCalendar || len(e.Children) != 1 ||
			(e.Children[0].XMLName != davxml.C("opaque") && e.Children[0].XMLName != davxml.C("transparent")) {
			return &propError{http.StatusConflict, "schedule-calendar-transp is set on a calendar to opaque or transparent", condValidScheduleTransp}
		}
	case propScheduleDefaultCal:
		if kind != engine.KindInbox || len(e.Children) != 1 || e.Children[0].XMLName != davxml.D("href") {
			return &propError{http.StatusConflict, "schedule-default-calendar-URL is set on the inbox to the href of one of your calendars", condValidDefaultCalURL}
		}
		if p, err := hrefPath(strings.TrimSpace(e.Children[0].Text)); err != nil || !strings.HasPrefix(p, "/dav/home/") {
			return &propError{http.StatusConflict, "schedule-default-calendar-URL is set on the inbox to the href of one of your calendars", condValidDefaultCalURL}
		}
	}
	return nil
}

// ifScheduleTagMatch returns the schedule tag a request's
// If-Schedule-Tag-Match demands (RFC 6638 §8.3), "" when it has none.
func ifScheduleTagMatch(r *http.Request) string {
	return strings.TrimSpace(r.Header.Get("If-Schedule-Tag-Match"))
}

// setScheduleTag sets the Schedule-Tag response header (RFC 6638 §8.2)
// of a scheduling object resource; tag "" (any other object) sets none.
func setScheduleTag(w http.ResponseWriter, tag string) {
	if tag != "" {
		w.Header().Set("Schedule-Tag", tag)
	}
}

// errScheduleTagMismatch is the 412 of an If-Schedule-Tag-Match the
// object does not have.
func errScheduleTagMismatch() error {
	return httpErrorf(http.StatusPreconditionFailed, "If-Schedule-Tag-Match does not match the schedule tag: an organizer's change arrived meanwhile, or this is no scheduling object")
}

package dav

import (
	"context"
	"errors"
	"time"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
)

// Shaping of CALDAV:calendar-data (RFC 4791 §9.6) and CARDDAV:address-data
// (RFC 6352 §10.4), shared by the query REPORTs (query_reports.go) and the
// multiget REPORTs (multiget.go): package dav/query parses the elements
// and renders the data; this file applies them to stored objects.

// shaper returns the calendar-data or address-data to send for o; nil
// sends the stored body.
type shaper func(o *engine.Object) ([]byte, error)

// shaperOf parses the CALDAV:calendar-data or CARDDAV:address-data element
// (by the kind of c, the multiget's collection) of prop, the multiget's
// DAV:prop, with the parser and renderer of the query REPORTs (package
// dav/query). It returns nil when the element asks for no shaping. An
// object the renderer cannot read or expand is logged and sent whole, as
// it is stored.
//
// Errors are *query.Error: those of query.ParseCalendarData and
// query.ParseAddressData.
func (h *Handler) shaperOf(ctx context.Context, c *engine.Collection, prop *davxml.Prop) (shaper, error) {
	if c.Kind == engine.KindAddressBook {
		d, err := query.ParseAddressData(prop)
		if err != nil || !d.Shaped() {
			return nil, err
		}
		return func(o *engine.Object) ([]byte, error) {
			card, err := query.ParseCard(o.Body)
			if err != nil {
				return h.unshaped(c, o, err)
			}
			return d.Render(card), nil
		}, nil
	}
	d, err := query.ParseCalendarData(prop)
	if err != nil || !d.Shaped() {
		return nil, err
	}
	floating := collectionTimezone(c)
	return func(o *engine.Object) ([]byte, error) {
		obj, err := query.ParseCalendarObject(o.Body)
		if err != nil {
			return h.unshaped(c, o, err)
		}
		return h.renderCalendar(ctx, c, o, obj, d, floating)
	}, nil
}

// renderCalendar returns the calendar-data d asks for of o, whose body
// obj is (RFC 4791 §9.6), for calendar-query and calendar-multiget alike.
// An object whose recurrence cannot be evaluated (a malformed date or rule
// that PUT let through) is logged and sent whole, as stored.
//
// Errors are *query.Error: CALDAV:max-instances when an expansion exceeds
// the handler's limits; ctx's error when it is done.
func (h *Handler) renderCalendar(ctx context.Context, c *engine.Collection, o *engine.Object, obj *query.CalendarObject, d *query.CalendarData, floating *time.Location) ([]byte, error) {
	data, err := d.Render(ctx, obj, floating, h.limits)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var qe *query.Error
	if err != nil && !errors.As(err, &qe) {
		return h.unshaped(c, o, err)
	}
	return data, err
}

// unshaped logs why o cannot be shaped and has it sent as stored.
func (h *Handler) unshaped(c *engine.Collection, o *engine.Object, err error) ([]byte, error) {
	h.log.Warn("calendar-data or address-data of an unreadable object sent unshaped", "path", c.Path+o.Name, "err", err)
	return nil, nil
}

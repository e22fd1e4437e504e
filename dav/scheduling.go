package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/dav/sched"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/itip"
)

// Implicit scheduling (RFC 6638 §3): PUT and DELETE of a calendar object
// with ORGANIZER go through package sched, which delivers the messages
// the change sends to the local users in the same engine step as the
// write itself.

// directory is sched.Directory over the handler's principals and paths.
type directory struct{ h *Handler }

var _ sched.Directory = directory{}

// User returns the user a mailto: address, urn:uuid: or principal URL
// names; "" for anything else (a group, an unknown address).
func (d directory) User(v *engine.View, addr string) (string, error) {
	a := strings.TrimSpace(addr)
	if strings.HasPrefix(strings.ToLower(a), "mailto:") {
		name, err := v.UserByEmail(a)
		if errors.Is(err, engine.ErrNotFound) {
			return "", nil
		}
		return name, err
	}
	if !strings.Contains(a, ":") && !strings.Contains(a, "/") {
		return "", nil // a bare name is no calendar user address
	}
	name, err := d.h.principalOfHref(v, a)
	if err != nil || name == "" {
		return "", err
	}
	if _, err := v.Group(name); err == nil {
		return "", nil
	} else if !errors.Is(err, engine.ErrNotFound) {
		return "", fmt.Errorf("look up group %s: %w", name, err)
	}
	return name, nil
}

// Addresses returns user's calendar-user-address-set.
func (d directory) Addresses(v *engine.View, user string) ([]string, error) {
	p := principal{name: user}
	switch u, err := v.User(user); {
	case err == nil:
		p.emails = u.Emails
	case !errors.Is(err, engine.ErrNotFound):
		return nil, fmt.Errorf("look up user %s: %w", user, err)
	default:
		switch d, err := v.DirectoryUser(user); {
		case err == nil:
			dp, err := directoryPrincipal(v, d)
			if err != nil {
				return nil, err
			}
			p.emails = dp.emails
		case !errors.Is(err, engine.ErrNotFound):
			return nil, fmt.Errorf("look up directory user %s: %w", user, err)
		}
	}
	return calendarUserAddresses(p), nil
}

// Prepare creates user's home (with the inbox) when it does not exist.
func (d directory) Prepare(ctx context.Context, user string, m engine.Meta) error {
	m.Reason = "scheduling: the recipient's home"
	return d.h.ensureHome(ctx, user, m)
}

// Inbox returns the path of user's schedule inbox.
func (d directory) Inbox(user string) string { return inboxPath(user) }

// DefaultCalendar returns the calendar the inbox's
// schedule-default-calendar-URL names when it is one of user's, else the
// home's default calendar, else the first of user's calendars that takes
// events.
func (d directory) DefaultCalendar(v *engine.View, user string) (string, error) {
	if in, err := v.Collection(inboxPath(user)); err == nil {
		if x, ok := in.Props.Dead[deadKey(propScheduleDefaultCal)]; ok {
			var e struct {
				Href string `xml:"DAV: href"`
			}
			if xml.Unmarshal([]byte(x), &e) == nil {
				if p, err := hrefPath(e.Href); err == nil {
					if c, err := v.Collection(p); err == nil && c.Kind == engine.KindCalendar && c.Owner == user {
						return c.Path, nil
					}
				}
			}
		}
	}
	def := homePath(user) + defaultCalendar + "/"
	if c, err := v.Collection(def); err == nil && c.Kind == engine.KindCalendar {
		return def, nil
	}
	cals, err := d.Calendars(v, user)
	if err != nil {
		return "", err
	}
	for _, p := range cals {
		if c, err := v.Collection(p); err == nil && c.Supports("VEVENT") {
			return p, nil
		}
	}
	return def, nil
}

// Calendars returns the paths of the calendars in user's home.
func (d directory) Calendars(v *engine.View, user string) ([]string, error) {
	kids, err := v.Children(homePath(user))
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		return nil, fmt.Errorf("list the home of %s: %w", user, err)
	}
	var out []string
	for _, c := range kids {
		if c.Kind == engine.KindCalendar && c.Owner == user {
			out = append(out, c.Path)
		}
	}
	return out, nil
}

// scheduleWrite runs a PUT (body set) or DELETE of an object of the
// calendar at path through the scheduler. done is false when it is no
// scheduling write: the caller then writes it as usual.
func (h *Handler) scheduleWrite(w http.ResponseWriter, r *http.Request, path, name string, body []byte, opts engine.PutOptions) (done bool, err error) {
	st := state(r)
	c, err := h.db.Collection(path)
	if err != nil {
		return false, nil // the plain write reports it
	}
	res, err := h.sched.Write(r.Context(), sched.Request{
		Meta: st.meta, User: c.Owner, Path: path, Name: name, Body: body,
		IfMatch: opts.IfMatch, IfNoneMatch: opts.IfNoneMatch, IfScheduleTagMatch: opts.IfScheduleTagMatch, NoReply: r.Header.Get("Schedule-Reply") == "F",
	})
	if err != nil {
		return true, scheduleError(err)
	}
	if !res.Handled {
		return false, nil
	}
	switch {
	case body == nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		if !res.Changed { // RFC 4791 §5.3.4: no ETag when the stored data differs
			w.Header().Set("ETag", res.ETag)
		}
		setScheduleTag(w, res.ScheduleTag)
		if res.Created {
			w.WriteHeader(http.StatusCreated)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
	}
	return true, nil
}

// scheduleError maps the preconditions of scheduling (RFC 6638 §3.2.4)
// to 403 with their CALDAV: element, anything else as MapError does.
func scheduleError(err error) error {
	var pe *itip.PreconditionError
	switch {
	case errors.As(err, &pe):
		return precondition(http.StatusForbidden, davxml.C(pe.Cond), "%s", strings.TrimPrefix(err.Error(), "itip: "))
	case errors.Is(err, sched.ErrUniqueObject):
		return precondition(http.StatusForbidden, davxml.C("unique-scheduling-object-resource"), "%s", strings.TrimPrefix(err.Error(), "sched: "))
	case errors.Is(err, sched.ErrMaxAttendees):
		return precondition(http.StatusForbidden, davxml.C("max-attendees-per-instance"), "%s", strings.TrimPrefix(err.Error(), "sched: "))
	}
	return mapKind(err, engine.KindCalendar)
}

// checkScheduleCopyMove refuses a MOVE or COPY of src to the object
// name of the calendar dst that would bypass scheduling
// (sched.CheckCopyMove).
func (h *Handler) checkScheduleCopyMove(r *http.Request, src *resource, dst *engine.Collection, name string) error {
	old, err := h.db.Object(dst.Path, name, false)
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		return fmt.Errorf("look up %s%s: %w", dst.Path, name, err)
	}
	if src.obj.ScheduleTag == "" && (old == nil || old.ScheduleTag == "") {
		return nil // no scheduling object on either side
	}
	v, err := h.db.View()
	if err != nil {
		return fmt.Errorf("open view: %w", err)
	}
	defer v.Close()
	o, err := v.Object(src.coll.Path, src.obj.Name, true)
	if err != nil {
		return err
	}
	err = h.sched.CheckCopyMove(v, sched.CopyMove{Body: o.Body, From: src.coll.Owner, To: dst.Owner, Copy: r.Method == "COPY",
		Replaces: old != nil, ReplacesScheduling: old != nil && old.ScheduleTag != ""})
	if err != nil {
		return scheduleError(err)
	}
	return nil
}

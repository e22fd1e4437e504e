package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/almanac/almanac/engine"
)

// pushView is one of the user's WebDAV-Push registrations on the devices
// page.
type pushView struct {
	ID         string
	Collection string // its name in the home, or its path when elsewhere (a share)
	Triggers   string
	// Endpoint is the push service's host (the full URL is a capability).
	Endpoint         string
	Created, Expires time.Time
	// LastDelivery is the sender's last delivery in this process (zero:
	// none since the start, or no sender).
	LastDelivery time.Time
}

// maxPushShown bounds the registrations the page lists (a user may hold
// engine.MaxPushPerUser).
const maxPushShown = 200

// pushViews lists the user's push registrations, newest first, at most
// maxPushShown; more reports how many were left out.
func (h *Handler) pushViews(v *engine.View, q *request) (out []pushView, more int, err error) {
	regs, err := v.UserPushRegistrations(q.s.user)
	if err != nil {
		return nil, 0, err
	}
	slices.SortFunc(regs, func(a, b *engine.PushRegistration) int { return b.Created.Compare(a.Created) })
	if len(regs) > maxPushShown {
		more, regs = len(regs)-maxPushShown, regs[:maxPushShown]
	}
	for _, r := range regs {
		pv := pushView{ID: r.ID, Created: r.Created, Expires: r.Expires, Endpoint: endpointHost(r.PushResource)}
		switch c, deleted, err := v.CollectionByID(r.CollectionID); {
		case errors.Is(err, engine.ErrNotFound) || err == nil && deleted:
		case err != nil:
			return nil, 0, err
		default:
			pv.Collection = c.Path
			if strings.HasPrefix(c.Path, q.home()) {
				pv.Collection = collName(c.Path)
			}
		}
		var t []string
		if r.ContentUpdate {
			t = append(t, "content")
		}
		if r.PropertyUpdate {
			t = append(t, "properties")
		}
		pv.Triggers = strings.Join(t, ", ")
		if h.opts.PushLastDelivery != nil {
			pv.LastDelivery = h.opts.PushLastDelivery(r.ID)
		}
		out = append(out, pv)
	}
	return out, more, nil
}

// endpointHost is the host of a push resource URL ("" when it has none).
func endpointHost(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	if _, h, ok := strings.Cut(host, "@"); ok {
		host = h
	}
	return host
}

// removePush removes one of the user's push registrations (another
// user's id is not found).
func (h *Handler) removePush(w http.ResponseWriter, q *request) error {
	if err := h.opts.DB.UnregisterPush(q.Context(), q.meta(), q.FormValue("id"), q.s.user); err != nil {
		return err
	}
	return h.redirect(w, q, "/devices", "Removed the push subscription.")
}

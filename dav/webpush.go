package dav

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
	davpush "github.com/almanac/almanac/dav/push"
	"github.com/almanac/almanac/engine"
)

// WebDAV-Push (draft-bitfire-webdav-push): collections report the
// transports, topic and supported-triggers properties; a user who may
// read a collection registers a Web Push subscription by POSTing
// push-register to it and gets 201 (new) or 204 (renewed) with the
// registration URL (/dav/push/<id>) in Location and the expiry in
// Expires; DELETE of that URL removes it. Writes carry Push-Dont-Notify
// to the engine (Meta.DontNotify): the push sender skips those of the
// writer's registrations.

// PushService is what WebDAV-Push needs outside package dav; the push
// sender (package push) implements it.
type PushService interface {
	// VAPIDPublicKey returns the server's VAPID public key (an
	// uncompressed P-256 point, base64url).
	VAPIDPublicKey() string
	// CheckEndpoint returns why the sender would not POST to a push
	// resource (an address it may not reach, a scheme it does not use),
	// or nil.
	CheckEndpoint(pushResource string) error
}

// pushPrefix is where registration URLs live.
const pushPrefix = "/dav/push/"

// pushProp returns a WebDAV-Push property of a collection; ok is false
// when push is off or n is not one.
func (h *Handler) pushProp(r *resource, n xml.Name) (davxml.PropValue, bool) {
	if h.push == nil || r.kind != resCollection || n.Space != davpush.NS {
		return davxml.PropValue{}, false
	}
	switch n {
	case davpush.PropTransports:
		return prop(n, davpush.Transports(h.push.VAPIDPublicKey())), true
	case davpush.PropTopic:
		return textProp(n, h.db.PushTopic(r.coll.ID)), true
	case davpush.PropSupportedTriggers:
		return prop(n, davpush.SupportedTriggers), true
	}
	return davxml.PropValue{}, false
}

// postPushRegister registers (or renews) the user's subscription on the
// target collection.
func (h *Handler) postPushRegister(w http.ResponseWriter, r *http.Request, body []byte) error {
	st := state(r)
	if h.push == nil {
		return precondition(http.StatusForbidden, davpush.CondPushNotAvailable, "WebDAV-Push is not enabled on this server")
	}
	reg, err := davpush.ParseRegister(body)
	switch {
	case errors.Is(err, davpush.ErrInvalidSubscription):
		return precondition(http.StatusForbidden, davpush.CondInvalidSubscription, "%s", strings.TrimPrefix(err.Error(), "push: invalid subscription: "))
	case errors.Is(err, davpush.ErrNoSupportedTrigger):
		return precondition(http.StatusForbidden, davpush.CondNoSupportedTrigger, "%s", strings.TrimPrefix(err.Error(), "push: no supported trigger: "))
	case err != nil:
		return errMalformedXML(err)
	}
	if err := h.push.CheckEndpoint(reg.PushResource); err != nil {
		return precondition(http.StatusForbidden, davpush.CondInvalidSubscription, "%v", err)
	}
	res, err := h.lookupNow(st)
	if err != nil {
		return err
	}
	if res.kind != resCollection {
		return precondition(http.StatusForbidden, davpush.CondPushNotAvailable, "push registrations are made on collections")
	}
	if !res.acc.has(privRead) {
		return st.need(privRead)
	}
	out, created, err := h.db.RegisterPush(r.Context(), st.meta, res.coll.Path, engine.PushRegistration{
		PushResource: reg.PushResource, PublicKey: reg.PublicKey, AuthSecret: reg.AuthSecret,
		ContentUpdate: reg.ContentUpdate, PropertyUpdate: reg.PropertyUpdate, VAPIDKey: h.push.VAPIDPublicKey(),
	}, reg.Expires)
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("Location", absoluteURL(r, pushPrefix+out.ID))
	hdr.Set("Expires", out.Expires.UTC().Format(http.TimeFormat))
	if created {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// servePushRegistration answers requests to a registration URL: DELETE
// by its user removes it (204); an id that is unknown, expired or
// another user's is 404.
func (h *Handler) servePushRegistration(w http.ResponseWriter, r *http.Request) error {
	st := state(r)
	id := strings.TrimPrefix(r.URL.Path, pushPrefix)
	if id == "" || strings.Contains(id, "/") || h.push == nil {
		return errNotFound
	}
	if r.Method != http.MethodDelete {
		w.Header().Set("Allow", "DELETE")
		return httpErrorf(http.StatusMethodNotAllowed, "a push registration answers DELETE only")
	}
	if err := h.db.UnregisterPush(r.Context(), st.meta, id, st.user); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// parseDontNotify reads the Push-Dont-Notify header: "*", or registration
// URLs (quoted, comma-separated), of which it keeps the ids, at most
// engine.MaxDontNotify.
func parseDontNotify(values []string) []string {
	var ids []string
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.Trim(strings.TrimSpace(part), `"`)
			if part == "*" {
				return []string{"*"}
			}
			u, err := url.Parse(part)
			if err != nil {
				continue
			}
			id, ok := strings.CutPrefix(u.Path, pushPrefix)
			if ok && id != "" && !strings.Contains(id, "/") && len(ids) < engine.MaxDontNotify {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// absoluteURL returns path as an absolute URL on the request's host.
func absoluteURL(r *http.Request, path string) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s%s", scheme, r.Host, path)
}

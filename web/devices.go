package web

import (
	"net/http"
	"strings"

	"github.com/almanac/almanac/engine"
)

type devicesData struct {
	Devices     []engine.AppPassword
	Collections []string // names in the home, for the scope's choices
	// New is the password just made, shown this once.
	New, NewName string
	Max          int
	ServerURL    string
	// Push are the user's WebDAV-Push registrations; PushMore how many
	// more there are than shown.
	Push     []pushView
	PushMore int
}

// devices lists the user's app passwords.
func (h *Handler) devices(w http.ResponseWriter, q *request) error {
	d, err := h.devicesData(q)
	if err != nil {
		return err
	}
	return h.show(w, q, "devices", "Devices and app passwords", "devices", d)
}

func (h *Handler) devicesData(q *request) (*devicesData, error) {
	u := q.account // the engine's account, looked up by guard, or an htpasswd or directory user's
	v, children, err := h.homeChildren(q)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	d := &devicesData{Devices: u.AppPasswords, Max: engine.MaxAppPasswords, ServerURL: baseURL(q.Request) + "/"}
	for _, c := range children {
		d.Collections = append(d.Collections, collName(c.Path))
	}
	if d.Push, d.PushMore, err = h.pushViews(v, q); err != nil {
		return nil, err
	}
	return d, nil
}

// createDevice makes an app password and shows it, this once, on the
// answer to the POST itself (never in a redirect, a cookie or the log).
func (h *Handler) createDevice(w http.ResponseWriter, q *request) error {
	spec := engine.AppPasswordSpec{Name: strings.TrimSpace(q.FormValue("name")), ReadOnly: q.FormValue("readonly") != ""}
	for _, c := range q.PostForm["collection"] {
		if c == "" || strings.ContainsAny(c, "/\x00") {
			return httpError(http.StatusBadRequest, "bad collection %q", c)
		}
		spec.Collections = append(spec.Collections, q.home()+c+"/")
	}
	pw, p, err := h.opts.DB.CreateAppPassword(q.Context(), q.meta(), q.s.user, spec)
	if err != nil {
		return err
	}
	d, err := h.devicesData(q)
	if err != nil {
		return err
	}
	d.New, d.NewName = pw, p.Name
	return h.show(w, q, "devices", "Devices and app passwords", "devices", d)
}

// revokeDevice revokes one of the user's app passwords.
func (h *Handler) revokeDevice(w http.ResponseWriter, q *request) error {
	if err := h.opts.DB.RevokeAppPassword(q.Context(), q.meta(), q.s.user, q.FormValue("id")); err != nil {
		return err
	}
	return h.redirect(w, q, "/devices", "Revoked.")
}

package web

import (
	"net/http"
	"strings"

	"github.com/almanac/almanac/engine"
)

// delegatesData is the delegates page's: who may act for the user (their
// whole home, Apple's calendar-proxy) and for whom the user may act.
type delegatesData struct {
	Delegates []*engine.Proxy // the user's delegates
	For       []*engine.Proxy // the delegations made to the user
	Max       int
}

// delegates shows the user's delegates and delegations.
func (h *Handler) delegates(w http.ResponseWriter, q *request) error {
	v, err := h.opts.DB.View()
	if err != nil {
		return err
	}
	defer v.Close()
	d := &delegatesData{Max: engine.MaxProxies}
	if d.Delegates, err = v.Proxies(q.s.user); err != nil {
		return err
	}
	if d.For, err = v.ProxyFor(q.s.user); err != nil {
		return err
	}
	return h.show(w, q, "delegates", "Delegates", "delegates", d)
}

// setDelegate makes a user or group a read or read-write delegate of the
// signed-in user's home, or (access "none") withdraws the delegation.
func (h *Handler) setDelegate(w http.ResponseWriter, q *request) error {
	delegate := strings.TrimSpace(q.FormValue("delegate"))
	if delegate == "" || delegate == q.s.user {
		return httpError(http.StatusBadRequest, "name another user or a group")
	}
	access := engine.AccessNone
	if a := q.FormValue("access"); a != engine.AccessNone.String() {
		var err error
		if access, err = engine.ParseAccess(a); err != nil || access == engine.AccessFreeBusy {
			return httpError(http.StatusBadRequest, "access must be read, read-write or none")
		}
	}
	if err := h.opts.DB.SetProxy(q.Context(), q.meta(), q.s.user, delegate, access); err != nil {
		return err
	}
	flash := delegate + " may now act for you (" + access.String() + ")."
	if access == engine.AccessNone {
		flash = delegate + " no longer acts for you."
	}
	return h.redirect(w, q, "/delegates", flash)
}

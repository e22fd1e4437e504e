package web

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
)

// collView is one calendar or address book on the calendars page.
type collView struct {
	Name, DisplayName, Description, Color string
	Kind                                  string // "calendar" or "address book"
	Calendar                              bool
	Count                                 int64
	Size                                  int64
	URL                                   string
	Modified                              time.Time
}

// deletedView is a collection deleted recently, restorable.
type deletedView struct {
	Path, Name string
	When       time.Time
	Actor      string
}

type calendarsData struct {
	Collections []collView
	// ServerURL, PrincipalURL and HomeURL are what clients are given.
	ServerURL, PrincipalURL, HomeURL string
	// DAVx5URL is the DAVx5 setup link; DAVx5QR and ServerQR are QR codes
	// of it and of ServerURL (empty when none could be made).
	DAVx5URL          string
	DAVx5QR, ServerQR template.URL
	ShowDeleted       bool
	Deleted           []deletedView
}

// MaxImportItems bounds the events or cards of one imported file (each is
// a write): a file of many tiny items within MaxUpload is refused whole
// with 413, before any is written.
const MaxImportItems = 5000

// deletedWindow is how far back the calendars page looks for deleted
// collections (only when asked: it reads the home's history).
const deletedWindow = 30 * 24 * time.Hour

// baseURL is the server's URL as the browser reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// calendars lists the user's calendars and address books.
func (h *Handler) calendars(w http.ResponseWriter, q *request) error {
	v, children, err := h.homeChildren(q)
	if err != nil {
		return err
	}
	defer v.Close()
	base := baseURL(q.Request)
	d := calendarsData{ServerURL: base + "/", PrincipalURL: base + "/dav/principals/" + q.s.user + "/",
		HomeURL: base + q.home(), ShowDeleted: q.URL.Query().Has("deleted")}
	if u, err := url.Parse(base); err == nil {
		d.DAVx5URL = davx5URL(u, q.s.user)
		d.DAVx5QR, _ = qrCode(d.DAVx5URL) // no code: the URLs are shown as text
		d.ServerQR, _ = qrCode(d.ServerURL)
	}
	for _, c := range children {
		if c.Kind != engine.KindCalendar && c.Kind != engine.KindAddressBook {
			continue
		}
		cv := collView{Name: collName(c.Path), DisplayName: c.Props.DisplayName, Description: c.Props.Description,
			Color: c.Props.Color, Calendar: c.Kind == engine.KindCalendar, Count: c.Count, URL: base + c.Path,
			Modified: c.Modified, Kind: "address book"}
		if cv.Calendar {
			cv.Kind = "calendar"
		}
		for o, err := range v.Objects(c.Path, engine.ListOptions{}) {
			if err != nil {
				return fmt.Errorf("size of %s: %w", c.Path, err)
			}
			cv.Size += o.Size
		}
		d.Collections = append(d.Collections, cv)
	}
	if d.ShowDeleted {
		evs, err := v.HistoryUnder(q.home(), h.opts.Clock().Add(-deletedWindow), time.Time{})
		if err != nil {
			return fmt.Errorf("history of %s: %w", q.home(), err)
		}
		seen := map[string]bool{}
		for _, e := range slices.Backward(evs) {
			if e.Op != engine.OpCollectionDeleted || seen[e.CollectionPath] || e.CollectionPath == q.home() {
				continue
			}
			seen[e.CollectionPath] = true
			if _, err := v.Collection(e.CollectionPath); err == nil {
				continue // made again since
			}
			d.Deleted = append(d.Deleted, deletedView{Path: e.CollectionPath, Name: collName(e.CollectionPath), When: e.Time, Actor: e.Actor})
		}
	}
	return h.show(w, q, "calendars", "Calendars and address books", "calendars", d)
}

// homeChildren opens a view and lists the collections of the user's
// home in it; the caller closes the view.
func (h *Handler) homeChildren(q *request) (*engine.View, []*engine.Collection, error) {
	v, err := h.opts.DB.View()
	if err != nil {
		return nil, nil, err
	}
	children, err := v.Children(q.home())
	if err != nil {
		v.Close()
		return nil, nil, fmt.Errorf("list %s: %w", q.home(), err)
	}
	return v, children, nil
}

// collName is the last segment of a collection path.
func collName(p string) string {
	p = strings.TrimSuffix(p, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}

// colorRE is a CSS hex color as clients write calendar-color (#RRGGBB,
// maybe with alpha).
var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$`)

// collectionOf returns the collection of owner named by the form or query
// value "c": a single segment of owner's home. Anything else, a missing
// one and another user's alike, is errNotFound.
func (q *request) collectionOf(v *engine.View, owner string) (*engine.Collection, error) {
	name := q.FormValue("c")
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." || len(name) > 255 {
		return nil, errNotFound
	}
	c, err := v.Collection("/dav/home/" + owner + "/" + name + "/")
	if errors.Is(err, engine.ErrNotFound) || err == nil && c.Owner != owner {
		return nil, errNotFound
	}
	return c, err
}

// viewCollection opens a view and finds the collection named by the
// request in it; the caller closes the view.
func (h *Handler) viewCollection(q *request) (*engine.View, *engine.Collection, error) {
	return h.viewCollectionOf(q, q.s.user)
}

// viewCollectionOf is viewCollection in owner's home.
func (h *Handler) viewCollectionOf(q *request, owner string) (*engine.View, *engine.Collection, error) {
	v, err := h.opts.DB.View()
	if err != nil {
		return nil, nil, err
	}
	c, err := q.collectionOf(v, owner)
	if err != nil {
		v.Close()
		return nil, nil, err
	}
	return v, c, nil
}

// withCollection runs fn with the collection named by the request.
func (h *Handler) withCollection(q *request, fn func(c *engine.Collection) error) error {
	v, c, err := h.viewCollection(q)
	if err != nil {
		return err
	}
	v.Close()
	return fn(c)
}

// checkProps checks the form's display name and color.
func checkProps(name, color string) error {
	if len(name) > 1024 {
		return httpError(http.StatusBadRequest, "the name is longer than 1024 bytes")
	}
	if color != "" && !colorRE.MatchString(color) {
		return httpError(http.StatusBadRequest, "the color %q is not #RRGGBB", color)
	}
	return nil
}

// createCollection makes a calendar or an address book.
func (h *Handler) createCollection(w http.ResponseWriter, q *request) error {
	name, display, color := strings.TrimSpace(q.FormValue("name")), strings.TrimSpace(q.FormValue("displayname")), q.FormValue("color")
	if err := checkProps(display, color); err != nil {
		return err
	}
	if name == "" || strings.ContainsAny(name, "/\x00%") || name == "." || name == ".." {
		return httpError(http.StatusBadRequest, "the address name %q must be one path segment without /, %% or NUL", name)
	}
	spec := engine.CollectionSpec{Path: q.home() + name + "/", Kind: engine.KindCalendar, Owner: q.s.user,
		Props: engine.Props{DisplayName: display, Color: color}}
	if q.FormValue("kind") == "addressbook" {
		spec.Kind = engine.KindAddressBook
	} else {
		spec.Props.Components = []string{"VEVENT", "VTODO"}
	}
	if _, err := h.opts.DB.CreateCollection(q.Context(), q.meta(), spec); err != nil {
		return err
	}
	return h.redirect(w, q, "/calendars", "Created "+name+".")
}

// updateCollection renames (display name) and recolors a collection.
func (h *Handler) updateCollection(w http.ResponseWriter, q *request) error {
	display, color := strings.TrimSpace(q.FormValue("displayname")), q.FormValue("color")
	if err := checkProps(display, color); err != nil {
		return err
	}
	return h.withCollection(q, func(c *engine.Collection) error {
		err := h.opts.DB.UpdateProps(q.Context(), q.meta(), c.Path, func(p *engine.Props) error {
			p.DisplayName, p.Color = display, color
			return nil
		})
		if err != nil {
			return err
		}
		return h.redirect(w, q, "/calendars", "Saved "+collName(c.Path)+".")
	})
}

// deleteCollection deletes a collection; it stays restorable from the
// log.
func (h *Handler) deleteCollection(w http.ResponseWriter, q *request) error {
	return h.withCollection(q, func(c *engine.Collection) error {
		if err := h.opts.DB.DeleteCollection(q.Context(), q.meta(), c.Path); err != nil {
			return err
		}
		return h.redirect(w, q, "/calendars?deleted", "Deleted "+collName(c.Path)+": it can be restored below.")
	})
}

// undeleteCollection brings a deleted collection of the user's home back.
func (h *Handler) undeleteCollection(w http.ResponseWriter, q *request) error {
	name := q.FormValue("c")
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return errNotFound
	}
	l := &audit.Local{DB: h.opts.DB, Meta: q.meta()}
	if _, err := l.Undelete(q.Context(), q.home()+name+"/"); err != nil {
		return err
	}
	return h.redirect(w, q, "/calendars", "Restored "+name+".")
}

// importFile puts the events of an uploaded .ics, or the cards of a .vcf,
// into a collection, each under a name made from its UID; an object
// already there with the same bytes is left alone.
func (h *Handler) importFile(w http.ResponseWriter, q *request) error {
	f, _, err := q.FormFile("file")
	if err != nil {
		return httpError(http.StatusBadRequest, "choose a file to import")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, h.opts.MaxUpload+1))
	if err != nil {
		return fmt.Errorf("read the upload: %w", err)
	}
	if int64(len(data)) > h.opts.MaxUpload {
		return httpError(http.StatusRequestEntityTooLarge, "the file is over the limit of %d bytes", h.opts.MaxUpload)
	}
	return h.withCollection(q, func(c *engine.Collection) error {
		ic := audit.ImportCollection{Path: c.Path, Kind: "calendar"}
		var err error
		if c.Kind == engine.KindAddressBook {
			ic.Kind = "addressbook"
			ic.Items, err = audit.SplitVCards(data)
		} else {
			ic.Items, err = audit.SplitCalendar(data)
		}
		if err != nil {
			return httpError(http.StatusBadRequest, "the file cannot be read: %v", err)
		}
		if len(ic.Items) > MaxImportItems {
			return httpError(http.StatusRequestEntityTooLarge, "the file holds %d items, over the limit of %d per import: split it", len(ic.Items), MaxImportItems)
		}
		l := &audit.Local{DB: h.opts.DB, Meta: q.meta()}
		rep, err := l.Import(q.Context(), audit.ImportRequest{Collections: []audit.ImportCollection{ic}})
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("Imported %d, unchanged %d.", rep.Imported, rep.Unchanged)
		if len(rep.Errors) > 0 {
			msg += fmt.Sprintf(" %d refused: %s", len(rep.Errors), strings.Join(rep.Errors[:min(len(rep.Errors), 5)], "; "))
		}
		return h.redirect(w, q, "/calendars", msg)
	})
}

// export downloads a calendar as one .ics or an address book as a .vcf.
func (h *Handler) export(w http.ResponseWriter, q *request) error {
	return h.withCollection(q, func(c *engine.Collection) error {
		l := &audit.Local{DB: h.opts.DB, Meta: q.meta()}
		b, err := l.Export(q.Context(), c.Path, "")
		if err != nil {
			return err
		}
		ext, ct := ".ics", "text/calendar; charset=utf-8"
		if c.Kind == engine.KindAddressBook {
			ext, ct = ".vcf", "text/vcard; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Disposition", `attachment; filename="`+safeFilename(collName(c.Path))+ext+`"`)
		_, err = w.Write(b)
		return err
	})
}

// safeFilename keeps letters, digits, '-', '_' and '.'.
func safeFilename(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

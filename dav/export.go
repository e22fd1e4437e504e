package dav

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/engine/contentline"
)

// getCalendar streams a whole calendar as one VCALENDAR: the components of
// every object copied byte for byte, VTIMEZONEs once per TZID.
func (h *Handler) getCalendar(w http.ResponseWriter, r *http.Request, v *engine.View, c *engine.Collection) error {
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", engine.ContentTypeCalendar)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	out, closeBody := responseBody(w, r, http.StatusOK, engine.ContentTypeCalendar)
	bw := bufio.NewWriterSize(out, 32<<10)
	bw.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Almanac//Almanac//EN\r\n")
	if c.Props.DisplayName != "" {
		bw.WriteString("X-WR-CALNAME:" + icalText(c.Props.DisplayName) + "\r\n")
	}
	seenTZ := map[string]bool{}
	for o, err := range v.Objects(c.Path, engine.ListOptions{Bodies: true}) {
		if err != nil {
			return fmt.Errorf("export %s: %w", c.Path, err)
		}
		if err := writeComponents(bw, o.Body, seenTZ); err != nil {
			// PUT refuses what contentline cannot read: an object stored
			// before it did is left out of the export, with a warning.
			h.log.Warn("export: unreadable object left out", "path", c.Path+o.Name, "err", err)
		}
	}
	bw.WriteString("END:VCALENDAR\r\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export %s: %w", c.Path, err)
	}
	return closeBody()
}

// getAddressBook streams every vCard of an address book, concatenated.
func (h *Handler) getAddressBook(w http.ResponseWriter, r *http.Request, v *engine.View, c *engine.Collection) error {
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", engine.ContentTypeVCard)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	out, closeBody := responseBody(w, r, http.StatusOK, engine.ContentTypeVCard)
	bw := bufio.NewWriterSize(out, 32<<10)
	for o, err := range v.Objects(c.Path, engine.ListOptions{Bodies: true}) {
		if err != nil {
			return fmt.Errorf("export %s: %w", c.Path, err)
		}
		bw.Write(o.Body)
		if !bytes.HasSuffix(o.Body, []byte("\n")) {
			bw.WriteString("\r\n")
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export %s: %w", c.Path, err)
	}
	return closeBody()
}

// writeComponents copies the components directly inside body's VCALENDAR
// to w, line by line with CRLF endings, folding kept, skipping VTIMEZONEs
// whose TZID was written already.
func writeComponents(w io.StringWriter, body []byte, seenTZ map[string]bool) error {
	lim := contentline.Defaults()
	lim.MaxLineLength = 0 // a stored body is bounded by the object size
	s := contentline.NewScanner(string(body), lim)
	var comp []string // the lines (as written) of the component being copied
	isTZ, tzid := false, ""
	for s.Scan() {
		l := s.Line()
		d := s.Depth()
		if d < 1 || d == 1 && !l.Is("END") {
			continue // the VCALENDAR's own lines
		}
		if d == 2 && l.Is("BEGIN") {
			comp, isTZ, tzid = comp[:0], strings.EqualFold(l.Value, "VTIMEZONE"), ""
		} else if isTZ && d == 2 && l.Is("TZID") {
			tzid = l.Value
		}
		comp = append(comp, l.Source)
		if d == 1 && !(isTZ && seenTZ[tzid]) {
			if isTZ {
				seenTZ[tzid] = true
			}
			for _, src := range comp {
				contentline.WriteSource(w, src)
			}
		}
	}
	return s.Err()
}

// icalText escapes an iCalendar TEXT value (RFC 5545 §3.3.11).
func icalText(s string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`).Replace(s)
}

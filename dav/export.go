package dav

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/almanac/almanac/engine"
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
		writeComponents(bw, o.Body, seenTZ)
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
// to w, line by line with CRLF endings, skipping VTIMEZONEs whose TZID
// was written already. Folded continuation lines stay with their line.
func writeComponents(w io.StringWriter, body []byte, seenTZ map[string]bool) {
	depth := 0
	var comp []string // lines of the component being copied
	isTZ := false
	tzid := ""
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		cont := line[0] == ' ' || line[0] == '\t'
		upper := ""
		if !cont {
			upper = strings.ToUpper(line)
		}
		switch {
		case strings.HasPrefix(upper, "BEGIN:"):
			depth++
			if depth == 2 {
				comp, isTZ, tzid = nil, upper == "BEGIN:VTIMEZONE", ""
			}
		case isTZ && depth == 2 && strings.HasPrefix(upper, "TZID"):
			if _, v, ok := strings.Cut(line, ":"); ok {
				tzid = v
			}
		}
		if depth >= 2 {
			comp = append(comp, line)
		}
		if strings.HasPrefix(upper, "END:") {
			if depth == 2 && !(isTZ && seenTZ[tzid]) {
				if isTZ {
					seenTZ[tzid] = true
				}
				for _, l := range comp {
					w.WriteString(l + "\r\n")
				}
			}
			depth--
		}
	}
}

// icalText escapes an iCalendar TEXT value (RFC 5545 §3.3.11).
func icalText(s string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`).Replace(s)
}

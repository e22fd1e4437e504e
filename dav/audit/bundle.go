package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// Item is one object of an import: its name, UID and body.
type Item struct {
	Name string `json:"name"`
	UID  string `json:"uid,omitempty"`
	Body []byte `json:"body"`
	// Err is set when the item could not be split out of its file.
	Err string `json:"error,omitempty"`
}

// block is a component copied line by line, folded lines kept as they are.
type block struct {
	name  string   // VEVENT, VTIMEZONE, ...
	lines []string // raw physical lines, without line ends
}

// physLines splits data into physical lines without their CR LF.
func physLines(data []byte) []string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSuffix(l, "\r")
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// isCont reports whether a physical line continues the one before (RFC
// 5545 §3.1 folding).
func isCont(l string) bool { return l[0] == ' ' || l[0] == '\t' }

// propValue returns the unfolded value of the first property name of a
// block's own lines (not of nested components).
func propValue(lines []string, name string) string {
	depth := 0
	for i, l := range lines {
		if isCont(l) {
			continue
		}
		u := strings.ToUpper(l)
		switch {
		case strings.HasPrefix(u, "BEGIN:"):
			depth++
			continue
		case strings.HasPrefix(u, "END:"):
			depth--
			continue
		}
		if depth != 1 || !strings.HasPrefix(u, name) || len(u) == len(name) || (u[len(name)] != ':' && u[len(name)] != ';') {
			continue
		}
		full := l
		for _, c := range lines[i+1:] {
			if !isCont(c) {
				break
			}
			full += c[1:]
		}
		if _, v, ok := cutValue(full); ok {
			return v
		}
	}
	return ""
}

// cutValue splits a content line at the colon that ends its name and
// parameters, skipping colons inside quoted parameter values.
func cutValue(line string) (string, string, bool) {
	quoted := false
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			quoted = !quoted
		case ':':
			if !quoted {
				return line[:i], line[i+1:], true
			}
		}
	}
	return line, "", false
}

// calendarParts splits a VCALENDAR stream (one or more VCALENDARs) into
// its calendar-level lines and its components.
func calendarParts(data []byte) (header []string, comps []block, err error) {
	depth := 0
	var cur *block
	for _, l := range physLines(data) {
		u := ""
		if !isCont(l) {
			u = strings.ToUpper(l)
		}
		if strings.HasPrefix(u, "BEGIN:") {
			depth++
			if depth == 1 {
				if u != "BEGIN:VCALENDAR" {
					return nil, nil, fmt.Errorf("expected BEGIN:VCALENDAR, got %q", l)
				}
				continue
			}
			if depth == 2 {
				cur = &block{name: strings.TrimPrefix(u, "BEGIN:")}
			}
		}
		switch {
		case depth >= 2:
			cur.lines = append(cur.lines, l)
		case depth == 1 && !strings.HasPrefix(u, "END:"):
			header = append(header, l)
		}
		if strings.HasPrefix(u, "END:") {
			if depth == 2 {
				comps = append(comps, *cur)
			}
			depth--
			if depth < 0 {
				return nil, nil, fmt.Errorf("unbalanced %q", l)
			}
		}
	}
	if depth != 0 {
		return nil, nil, fmt.Errorf("truncated iCalendar: %d components not closed", depth)
	}
	return header, comps, nil
}

// ExportCalendar writes the bodies of calendar objects as one VCALENDAR:
// every component copied line for line (folding kept), each VTIMEZONE once
// per TZID, before the other components. It never re-serializes.
func ExportCalendar(w io.Writer, bodies [][]byte) error {
	var tzs, comps []block
	seen := map[string]bool{}
	for _, b := range bodies {
		_, cs, err := calendarParts(b)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if c.name != "VTIMEZONE" {
				comps = append(comps, c)
				continue
			}
			if id := propValue(c.lines, "TZID"); !seen[id] {
				seen[id] = true
				tzs = append(tzs, c)
			}
		}
	}
	var buf bytes.Buffer
	buf.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Almanac//export//EN\r\n")
	for _, c := range append(tzs, comps...) {
		for _, l := range c.lines {
			buf.WriteString(l + "\r\n")
		}
	}
	buf.WriteString("END:VCALENDAR\r\n")
	_, err := w.Write(buf.Bytes())
	return err
}

// ExportVCards writes vCards one after the other, each ending in CR LF.
func ExportVCards(w io.Writer, bodies [][]byte) error {
	for _, b := range bodies {
		for _, l := range physLines(b) {
			if _, err := io.WriteString(w, l+"\r\n"); err != nil {
				return err
			}
		}
	}
	return nil
}

// SplitCalendar splits an iCalendar stream into one calendar object per
// UID: overrides (RECURRENCE-ID) stay with their master, each object gets
// the VTIMEZONEs its components reference, METHOD is dropped (RFC 4791
// §4.1). Lines are copied as they are. A component without UID becomes an
// Item with Err set.
func SplitCalendar(data []byte) ([]Item, error) {
	header, comps, err := calendarParts(data)
	if err != nil {
		return nil, err
	}
	tzByID := map[string]block{}
	var order []string
	byUID := map[string][]block{}
	var items []Item
	for _, c := range comps {
		if c.name == "VTIMEZONE" {
			tzByID[propValue(c.lines, "TZID")] = c
			continue
		}
		uid := propValue(c.lines, "UID")
		if uid == "" {
			items = append(items, Item{Err: fmt.Sprintf("%s without UID skipped", c.name)})
			continue
		}
		if _, ok := byUID[uid]; !ok {
			order = append(order, uid)
		}
		byUID[uid] = append(byUID[uid], c)
	}
	head := calendarHeader(header)
	for _, uid := range order {
		var buf bytes.Buffer
		buf.WriteString(head)
		for _, id := range referencedTZIDs(byUID[uid]) {
			if tz, ok := tzByID[id]; ok {
				for _, l := range tz.lines {
					buf.WriteString(l + "\r\n")
				}
			}
		}
		for _, c := range byUID[uid] {
			for _, l := range c.lines {
				buf.WriteString(l + "\r\n")
			}
		}
		buf.WriteString("END:VCALENDAR\r\n")
		items = append(items, Item{Name: ObjectName(uid, ".ics"), UID: uid, Body: buf.Bytes()})
	}
	return items, nil
}

// calendarHeader keeps VERSION, PRODID and CALSCALE of the source.
func calendarHeader(header []string) string {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\n")
	keep := false
	hasVersion, hasProdID := false, false
	for _, l := range header {
		if !isCont(l) {
			u := strings.ToUpper(l)
			keep = strings.HasPrefix(u, "VERSION") || strings.HasPrefix(u, "PRODID") || strings.HasPrefix(u, "CALSCALE")
			hasVersion = hasVersion || strings.HasPrefix(u, "VERSION")
			hasProdID = hasProdID || strings.HasPrefix(u, "PRODID")
		}
		if keep {
			b.WriteString(l + "\r\n")
		}
	}
	if !hasVersion {
		b.WriteString("VERSION:2.0\r\n")
	}
	if !hasProdID {
		b.WriteString("PRODID:-//Almanac//import//EN\r\n")
	}
	return b.String()
}

// referencedTZIDs lists the TZID parameter values the components use, in
// order of first use.
func referencedTZIDs(comps []block) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range comps {
		for _, l := range c.lines {
			u := strings.ToUpper(l)
			i := strings.Index(u, ";TZID=")
			if i < 0 {
				continue
			}
			v := l[i+len(";TZID="):]
			if strings.HasPrefix(v, `"`) {
				v, _, _ = strings.Cut(v[1:], `"`)
			} else if j := strings.IndexAny(v, ";:"); j >= 0 {
				v = v[:j]
			}
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// SplitVCards splits a stream of vCards into one Item per card, copied
// line for line. A card without UID is named after a hash of its content.
func SplitVCards(data []byte) ([]Item, error) {
	var items []Item
	var cur []string
	depth := 0
	for _, l := range physLines(data) {
		u := ""
		if !isCont(l) {
			u = strings.ToUpper(l)
		}
		if u == "BEGIN:VCARD" {
			depth++
		}
		if depth == 0 {
			return nil, fmt.Errorf("line outside BEGIN:VCARD/END:VCARD: %q", l)
		}
		cur = append(cur, l)
		if u == "END:VCARD" {
			if depth--; depth == 0 {
				body := strings.Join(cur, "\r\n") + "\r\n"
				uid := propValue(cur, "UID")
				name := ObjectName(uid, ".vcf")
				if uid == "" {
					sum := sha256.Sum256([]byte(body))
					name = "card-" + hex.EncodeToString(sum[:8]) + ".vcf"
				}
				items = append(items, Item{Name: name, UID: uid, Body: []byte(body)})
				cur = nil
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("truncated vCard stream")
	}
	return items, nil
}

// ObjectName turns a UID into a safe object name: letters, digits and
// "-_.@" are kept, anything else becomes "_"; a UID that is empty, too
// long or only dots is replaced by a hash of it.
func ObjectName(uid, ext string) string {
	var b strings.Builder
	for _, r := range uid {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("-_.@", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || len(s) > 200 || strings.Trim(s, ".") == "" {
		sum := sha256.Sum256([]byte(uid))
		s = hex.EncodeToString(sum[:16])
	}
	return s + ext
}

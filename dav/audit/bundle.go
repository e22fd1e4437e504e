package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/almanac/almanac/engine/contentline"
)

// Item is one object of an import: its name, UID and body.
type Item struct {
	Name string `json:"name"`
	UID  string `json:"uid,omitempty"`
	Body []byte `json:"body"`
	// Err is set when the item could not be split out of its file.
	Err string `json:"error,omitempty"`
	// Whole marks a file of a collection folder handed over unsplit under
	// its own name (an import into a data directory): Local.Import puts
	// it as it is when it is one valid object, parsing it once, and else
	// makes of it the items FileItems makes. It does not travel through
	// the admin API.
	Whole bool `json:"-"`
}

// IsVCard reports whether data, an import file, holds vCards: it starts,
// after white space, with BEGIN:VCARD. Anything else is read as
// iCalendar.
func IsVCard(data []byte) bool {
	return strings.HasPrefix(strings.ToUpper(strings.TrimSpace(string(data[:min(len(data), 32)]))), "BEGIN:VCARD")
}

// FileItems returns the items of an import file named name: one an
// object, split by UID (SplitVCards when it holds vCards, see IsVCard,
// else SplitCalendar); with keepName, a file that holds one object is one
// item under name, its bytes as they are. A file that cannot be split is
// one item error, so that the other files go on.
func FileItems(name string, data []byte, keepName bool) []Item {
	split := SplitCalendar
	if IsVCard(data) {
		split = SplitVCards
	}
	items, err := split(data)
	switch {
	case err != nil:
		return []Item{{Err: fmt.Sprintf("%s: %v", name, err)}}
	case keepName && len(items) == 1 && items[0].Err == "":
		items[0].Name, items[0].Body = name, data
	}
	return items
}

// block is a component copied line by line, folding kept.
type block struct {
	name   string   // VEVENT, VTIMEZONE, ...
	lines  []string // its content lines as written (contentline.Line.Source)
	uid    string   // the component's own UID, RECURRENCE-ID and TZID values
	rid    string
	tzid   string
	tzrefs []string // TZID parameter values of its lines, in order of first use
}

// writeTo writes the block's lines, each physical line ended by CRLF.
func (b *block) writeTo(w io.StringWriter) {
	for _, l := range b.lines {
		contentline.WriteSource(w, l)
	}
}

// streamLimits bound a stream of objects (an import file, an export):
// contentline's defaults but for the counts that a whole calendar
// exceeds. Each object split out of an import is PUT, and so checked
// against all of them.
func streamLimits() contentline.Limits {
	lim := contentline.Defaults()
	lim.MaxLineLength, lim.MaxLines, lim.MaxComponents = 0, 0, 0
	return lim
}

// calendarParts splits a VCALENDAR stream (one or more VCALENDARs) into
// its calendar-level lines and its components.
func calendarParts(data []byte) (header []string, comps []block, err error) {
	s := contentline.NewScanner(string(data), streamLimits())
	var cur *block
	for s.Scan() {
		l := s.Line()
		d := s.Depth()
		begin, end := l.Is("BEGIN"), l.Is("END")
		switch {
		case begin && d == 1:
			if !strings.EqualFold(l.Value, "VCALENDAR") {
				return nil, nil, fmt.Errorf("line %d: expected BEGIN:VCALENDAR, got %q", l.Num, l.Raw)
			}
			continue
		case end && d == 0:
			continue
		case begin && d == 2:
			cur = &block{name: strings.ToUpper(l.Value)}
		}
		if cur == nil {
			header = append(header, l.Source)
			continue
		}
		cur.lines = append(cur.lines, l.Source)
		if d == 2 && !begin && !end {
			switch strings.ToUpper(l.Name) {
			case "UID":
				cur.uid = l.Value
			case "RECURRENCE-ID":
				cur.rid = l.Value
			case "TZID":
				cur.tzid = l.Value
			}
		}
		for _, p := range l.Params {
			if strings.EqualFold(p.Name, "TZID") && len(p.Values) > 0 && !slices.Contains(cur.tzrefs, p.Values[0]) {
				cur.tzrefs = append(cur.tzrefs, p.Values[0])
			}
		}
		if end && d == 1 {
			comps = append(comps, *cur)
			cur = nil
		}
	}
	if err := s.Err(); err != nil {
		return nil, nil, err
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
			if id := c.tzid; !seen[id] {
				seen[id] = true
				tzs = append(tzs, c)
			}
		}
	}
	var buf bytes.Buffer
	buf.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Almanac//export//EN\r\n")
	for _, c := range append(tzs, comps...) {
		c.writeTo(&buf)
	}
	buf.WriteString("END:VCALENDAR\r\n")
	_, err := w.Write(buf.Bytes())
	return err
}

// ExportVCards writes vCards one after the other, each ending in CR LF.
func ExportVCards(w io.Writer, bodies [][]byte) error {
	bw := bufio.NewWriter(w)
	for _, b := range bodies {
		s := contentline.NewScanner(string(b), streamLimits())
		for s.Scan() {
			s.Line().WriteSource(bw)
		}
		if err := s.Err(); err != nil {
			return err
		}
	}
	return bw.Flush()
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
			tzByID[c.tzid] = c
			continue
		}
		uid := c.uid
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
				tz.writeTo(&buf)
			}
		}
		for _, c := range byUID[uid] {
			c.writeTo(&buf)
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
		u := strings.ToUpper(l)
		keep = strings.HasPrefix(u, "VERSION") || strings.HasPrefix(u, "PRODID") || strings.HasPrefix(u, "CALSCALE")
		hasVersion = hasVersion || strings.HasPrefix(u, "VERSION")
		hasProdID = hasProdID || strings.HasPrefix(u, "PRODID")
		if keep {
			contentline.WriteSource(&b, l)
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
	for _, c := range comps {
		for _, id := range c.tzrefs {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// SplitVCards splits a stream of vCards into one Item per card, copied
// line for line. A card without UID is named after a hash of its content.
func SplitVCards(data []byte) ([]Item, error) {
	var items []Item
	var cur strings.Builder
	uid := ""
	s := contentline.NewScanner(string(data), streamLimits())
	for s.Scan() {
		l := s.Line()
		d := s.Depth()
		if l.Is("BEGIN") && d == 1 {
			if !strings.EqualFold(l.Value, "VCARD") {
				return nil, fmt.Errorf("line %d: expected BEGIN:VCARD, got %q", l.Num, l.Raw)
			}
			cur.Reset()
			uid = ""
		}
		if d == 1 && l.Is("UID") {
			uid = l.Value
		}
		l.WriteSource(&cur)
		if l.Is("END") && d == 0 {
			body := cur.String()
			name := ObjectName(uid, ".vcf")
			if uid == "" {
				sum := sha256.Sum256([]byte(body))
				name = "card-" + hex.EncodeToString(sum[:8]) + ".vcf"
			}
			items = append(items, Item{Name: name, UID: uid, Body: []byte(body)})
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
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

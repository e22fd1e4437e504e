package davxml

import (
	"bufio"
	"slices"
)

// A shape is the layout of the DAV:propstat elements of one response:
// the literal markup (tags, statuses, errors) between the values of its
// properties. The members of a listing or a multiget ask for the same
// properties with the same statuses, so their responses differ only in
// the values: Multistatus keeps the last few shapes and writes a member
// as segment, value, segment, ... instead of grouping the properties by
// status and writing every tag again (a third of a PROPFIND's XML
// writing).
type shape struct {
	// keys are the properties' names, statuses, errors and value kinds,
	// in the order of the []PropValue the shape was built from.
	keys []shapeKey
	// segs[0] comes first, each value at props[order[i]] is followed by
	// segs[i+1].
	segs  []string
	order []int
}

// shapeKey is what a property contributes to a shape.
type shapeKey struct {
	space, local string
	status       int
	err          string
	kind         valueKind
}

// valueKind is which field of a PropValue carries its value.
type valueKind uint8

const (
	valueNone valueKind = iota
	valueElement
	valueInner
	valueStr
	valueText
)

func kindOf(p *PropValue) valueKind {
	switch {
	case p.Element != "":
		return valueElement
	case p.Inner != "":
		return valueInner
	case p.Str != "":
		return valueStr
	case p.Text != nil:
		return valueText
	}
	return valueNone
}

// maxShapes is how many shapes a Multistatus keeps: enough for the
// members of a collection with and without a schedule tag, or with a
// dead property here and there; more distinct shapes are built again.
const maxShapes = 4

// matches reports whether props have the shape s.
func (s *shape) matches(props []PropValue) bool {
	if len(s.keys) != len(props) {
		return false
	}
	for i := range props {
		p, k := &props[i], &s.keys[i]
		if p.Name.Local != k.local || p.Name.Space != k.space || statusOf(*p) != k.status || p.Error != k.err || kindOf(p) != k.kind {
			return false
		}
	}
	return true
}

// shapeOf returns the shape of props, from the cache or built (and
// cached, the oldest one making room).
func (m *Multistatus) shapeOf(props []PropValue) *shape {
	for i, s := range m.shapes {
		if s.matches(props) {
			if i > 0 { // the last one used is tried first
				copy(m.shapes[1:i+1], m.shapes[:i])
				m.shapes[0] = s
			}
			return s
		}
	}
	s := buildShape(props)
	if len(m.shapes) < maxShapes {
		m.shapes = append(m.shapes, nil)
	}
	copy(m.shapes[1:], m.shapes)
	m.shapes[0] = s
	return s
}

// buildShape lays props out as one DAV:propstat per status and error, in
// the order each first appears. With no properties at all (a
// sync-collection or PROPFIND whose DAV:prop is empty) it is one
// DAV:propstat with an empty DAV:prop and 200: a DAV:response needs a
// DAV:status or a DAV:propstat (RFC 4918 §14.24), and in a
// sync-collection answer a DAV:status alone would report the member
// removed (404) or the answer truncated (507) (RFC 6578 §3.5, §3.6).
func buildShape(props []PropValue) *shape {
	s := &shape{keys: make([]shapeKey, len(props))}
	for i := range props {
		p := &props[i]
		s.keys[i] = shapeKey{p.Name.Space, p.Name.Local, statusOf(*p), p.Error, kindOf(p)}
	}
	var sb stringsBuilder
	w := bufio.NewWriter(&sb)
	cut := func() {
		w.Flush()
		s.segs = append(s.segs, sb.String())
		sb.b = sb.b[:0]
	}
	if len(props) == 0 {
		w.WriteString("<D:propstat><D:prop/>")
		writeStatus(w, 200)
		w.WriteString("</D:propstat>")
	}
	var done []group
	for i := range props {
		g := group{s.keys[i].status, s.keys[i].err}
		if slices.Contains(done, g) {
			continue
		}
		done = append(done, g)
		w.WriteString("<D:propstat><D:prop>")
		for j := i; j < len(props); j++ {
			k := &s.keys[j]
			if k.status != g.status || k.err != g.err {
				continue
			}
			switch k.kind {
			case valueNone:
				StartTag(w, props[j].Name)
				w.WriteString("/>")
			case valueElement:
				cut()
				s.order = append(s.order, j)
			default:
				StartTag(w, props[j].Name)
				w.WriteByte('>')
				cut()
				s.order = append(s.order, j)
				EndTag(w, props[j].Name)
			}
		}
		w.WriteString("</D:prop>")
		writeStatus(w, g.status)
		if g.err != "" {
			w.WriteString("<D:error>")
			w.WriteString(g.err)
			w.WriteString("</D:error>")
		}
		w.WriteString("</D:propstat>")
	}
	cut()
	return s
}

// write writes props, which have the shape s.
func (s *shape) write(w *bufio.Writer, props []PropValue) {
	w.WriteString(s.segs[0])
	for i, j := range s.order {
		p := &props[j]
		switch s.keys[j].kind {
		case valueElement:
			w.WriteString(p.Element)
		case valueInner:
			w.WriteString(p.Inner)
		case valueStr:
			escape(w, p.Str)
		case valueText:
			escapeText(w, p.Text)
		}
		w.WriteString(s.segs[i+1])
	}
}

package query

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/almanac/almanac/engine/contentline"
	"github.com/emersion/go-ical"
)

// Node is a component of iCalendar or vCard data (RFC 5545 §3.4, RFC 6350
// §3.3) as written: its properties in their original order and raw form.
type Node struct {
	Name     string
	Props    []*Line
	Children []*Node
}

// Line is one unfolded content line.
type Line struct {
	Group  string // vCard group ("item1" of "item1.EMAIL"), else ""
	Name   string // upper case
	Params []Param
	Value  string // raw, still escaped
	Raw    string // the whole unfolded line as received
}

// Param is one parameter of a content line, with its values unquoted.
type Param struct {
	Name   string // upper case
	Values []string
}

// Param returns the first value of parameter name, or "".
func (l *Line) Param(name string) string {
	for _, p := range l.Params {
		if p.Name == name && len(p.Values) > 0 {
			return p.Values[0]
		}
	}
	return ""
}

// Prop returns the first property called name, or nil.
func (n *Node) Prop(name string) *Line {
	for _, l := range n.Props {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// ParseContent parses iCalendar or vCard text into its top-level
// components, with contentline (CRLF and bare LF line ends; the limits PUT
// enforces, so a stored body always parses). Parameter values are RFC
// 6868-decoded.
func ParseContent(body []byte) ([]*Node, error) {
	lim := contentline.Defaults()
	lim.MaxLineLength = 0 // a stored body is bounded by the object size
	s := contentline.NewScanner(string(body), lim)
	var roots, stack []*Node
	var slab []Line // lines are allocated in chunks of 8, 16, ... 64
	chunk := 8
	for s.Scan() {
		cl := s.Line()
		switch {
		case cl.Is("BEGIN"):
			n := &Node{Name: strings.ToUpper(cl.Value)}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.Children = append(top.Children, n)
			} else {
				roots = append(roots, n)
			}
			stack = append(stack, n)
		case cl.Is("END"):
			stack = stack[:len(stack)-1]
		default:
			if len(slab) == 0 {
				slab = make([]Line, chunk)
				chunk = min(2*chunk, 64)
			}
			l := &slab[0]
			slab = slab[1:]
			*l = Line{Group: cl.Group, Name: strings.ToUpper(cl.Name), Value: cl.Value, Raw: cl.Raw, Params: params(cl.Params)}
			top := stack[len(stack)-1]
			top.Props = append(top.Props, l)
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return roots, nil
}

// params copies a line's parameters, names upper case and values decoded,
// in two allocations.
func params(ps []contentline.Param) []Param {
	if len(ps) == 0 {
		return nil
	}
	n := 0
	for _, p := range ps {
		n += len(p.Values)
	}
	out, vals := make([]Param, len(ps)), make([]string, 0, n)
	for i, p := range ps {
		first := len(vals)
		for _, v := range p.Values {
			vals = append(vals, contentline.DecodeParam(v))
		}
		out[i] = Param{Name: strings.ToUpper(p.Name), Values: vals[first:len(vals):len(vals)]}
	}
	return out
}

// ToICal converts the node into a go-ical component, and records in m
// (when not nil) which node each component came from.
func (n *Node) ToICal(m map[*ical.Component]*Node) *ical.Component {
	c := ical.NewComponent(n.Name)
	for _, l := range n.Props {
		p := ical.Prop{Name: l.Name, Params: ical.Params{}, Value: l.Value}
		for _, pa := range l.Params {
			p.Params[pa.Name] = append(p.Params[pa.Name], pa.Values...)
		}
		c.Props[l.Name] = append(c.Props[l.Name], p)
	}
	for _, ch := range n.Children {
		c.Children = append(c.Children, ch.ToICal(m))
	}
	if m != nil {
		m[c] = n
	}
	return c
}

// Write appends the node as content lines, each folded at 75 octets.
func (n *Node) Write(b *bytes.Buffer) {
	writeFolded(b, "BEGIN:"+n.Name)
	for _, l := range n.Props {
		writeFolded(b, l.Raw)
	}
	for _, c := range n.Children {
		c.Write(b)
	}
	writeFolded(b, "END:"+n.Name)
}

// writeFolded writes one content line with CRLF, folding it so that no
// physical line exceeds 75 octets and no UTF-8 sequence is split.
func writeFolded(b *bytes.Buffer, line string) {
	limit := 75
	for len(line) > limit {
		cut := limit
		for cut > 0 && line[cut]&0xC0 == 0x80 {
			cut--
		}
		b.WriteString(line[:cut])
		b.WriteString("\r\n ")
		line = line[cut:]
		limit = 74 // the leading space counts
	}
	b.WriteString(line)
	b.WriteString("\r\n")
}

// formatLine renders a line from its parts, quoting parameter values
// that need it.
func formatLine(l *Line) string {
	var b strings.Builder
	if l.Group != "" {
		b.WriteString(l.Group)
		b.WriteByte('.')
	}
	b.WriteString(l.Name)
	for _, p := range l.Params {
		b.WriteByte(';')
		b.WriteString(p.Name)
		b.WriteByte('=')
		for i, v := range p.Values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(contentline.EncodeParam(v))
		}
	}
	b.WriteByte(':')
	b.WriteString(l.Value)
	return b.String()
}

// newLine builds a line and its raw form.
func newLine(name, value string, params ...Param) *Line {
	l := &Line{Name: name, Value: value, Params: params}
	l.Raw = formatLine(l)
	return l
}

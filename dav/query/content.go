package query

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/emersion/go-ical"
)

// Limits on parsed content, against hostile bodies.
const (
	maxDepth = 8
	maxLines = 100000
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
// components. It accepts CRLF and bare LF line ends.
func ParseContent(body []byte) ([]*Node, error) {
	lines, err := unfold(body)
	if err != nil {
		return nil, err
	}
	var roots []*Node
	var stack []*Node
	for _, raw := range lines {
		l, err := parseLine(raw)
		if err != nil {
			return nil, err
		}
		switch l.Name {
		case "BEGIN":
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("query: components nested too deep")
			}
			n := &Node{Name: strings.ToUpper(l.Value)}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.Children = append(top.Children, n)
			} else {
				roots = append(roots, n)
			}
			stack = append(stack, n)
		case "END":
			if len(stack) == 0 || stack[len(stack)-1].Name != strings.ToUpper(l.Value) {
				return nil, fmt.Errorf("query: unexpected END:%s", l.Value)
			}
			stack = stack[:len(stack)-1]
		default:
			if len(stack) == 0 {
				return nil, fmt.Errorf("query: property %s outside a component", l.Name)
			}
			top := stack[len(stack)-1]
			top.Props = append(top.Props, l)
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("query: missing END:%s", stack[len(stack)-1].Name)
	}
	return roots, nil
}

// unfold splits text into logical lines (RFC 5545 §3.1).
func unfold(body []byte) ([]string, error) {
	var out []string
	for _, phys := range strings.Split(string(body), "\n") {
		phys = strings.TrimSuffix(phys, "\r")
		if phys != "" && (phys[0] == ' ' || phys[0] == '\t') {
			if len(out) == 0 {
				return nil, fmt.Errorf("query: continuation line first")
			}
			out[len(out)-1] += phys[1:]
			continue
		}
		if phys == "" {
			continue
		}
		if len(out) >= maxLines {
			return nil, fmt.Errorf("query: too many lines")
		}
		out = append(out, phys)
	}
	return out, nil
}

// parseLine splits a content line into group, name, parameters and value.
func parseLine(raw string) (*Line, error) {
	l := &Line{Raw: raw}
	i := strings.IndexAny(raw, ";:")
	if i <= 0 {
		return nil, fmt.Errorf("query: malformed content line %q", clip(raw))
	}
	name := raw[:i]
	if g, n, ok := strings.Cut(name, "."); ok {
		l.Group, name = g, n
	}
	if !isToken(name) || l.Group != "" && !isToken(l.Group) {
		return nil, fmt.Errorf("query: malformed property name in %q", clip(raw))
	}
	l.Name = strings.ToUpper(name)
	rest := raw[i:]
	for len(rest) > 0 && rest[0] == ';' {
		rest = rest[1:]
		eq := strings.IndexAny(rest, "=;:")
		if eq < 0 {
			return nil, fmt.Errorf("query: malformed parameter in %q", clip(raw))
		}
		p := Param{Name: strings.ToUpper(rest[:eq])}
		if rest[eq] != '=' { // vCard 2.1-style bare parameter: TYPE value
			p.Values, p.Name = []string{rest[:eq]}, "TYPE"
			rest = rest[eq:]
			l.Params = append(l.Params, p)
			continue
		}
		rest = rest[eq+1:]
		for {
			var v string
			if strings.HasPrefix(rest, `"`) {
				end := strings.IndexByte(rest[1:], '"')
				if end < 0 {
					return nil, fmt.Errorf("query: unterminated quote in %q", clip(raw))
				}
				v, rest = rest[1:1+end], rest[2+end:]
			} else {
				end := strings.IndexAny(rest, ",;:")
				if end < 0 {
					return nil, fmt.Errorf("query: malformed parameter in %q", clip(raw))
				}
				v, rest = rest[:end], rest[end:]
			}
			p.Values = append(p.Values, v)
			if !strings.HasPrefix(rest, ",") {
				break
			}
			rest = rest[1:]
		}
		l.Params = append(l.Params, p)
	}
	if !strings.HasPrefix(rest, ":") {
		return nil, fmt.Errorf("query: malformed content line %q", clip(raw))
	}
	l.Value = rest[1:]
	return l, nil
}

// isToken reports whether s is a name: letters, digits and "-" (RFC 5545
// §3.1 iana-token and x-name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
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
			v = strings.ReplaceAll(v, `"`, "^'") // RFC 6868
			if strings.ContainsAny(v, ",;:") {
				b.WriteString(`"` + v + `"`)
			} else {
				b.WriteString(v)
			}
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

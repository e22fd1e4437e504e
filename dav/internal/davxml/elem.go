package davxml

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// Elem is an arbitrary element kept as a small tree: the children of
// DAV:prop (property names with optional content, RFC 4918 §14.18), dead
// property values and report sub-elements such as CALDAV:calendar-data
// with its comp/expand children (RFC 4791 §9.6).
type Elem struct {
	XMLName  xml.Name
	Attrs    []xml.Attr
	Children []Elem
	// Text is the concatenated character data directly inside the element.
	Text string
	// Mixed, for an element with children and character data between
	// them, holds the character data before each child and, last, after
	// the last one (len(Children)+1 strings), so that Marshal keeps mixed
	// content in place (RFC 4918 §4.3). It is nil otherwise.
	Mixed []string
}

// UnmarshalXML reads the element and everything inside it.
func (e *Elem) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	return e.read(d.Token, start, 0)
}

// read reads the element begun by start from the tokens next returns,
// up to and including its end element.
func (e *Elem) read(next func() (xml.Token, error), start xml.StartElement, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("davxml: elements nested deeper than %d", maxDepth)
	}
	e.XMLName = start.Name
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
			continue // namespace declarations are re-created on output
		}
		e.Attrs = append(e.Attrs, a)
	}
	var text strings.Builder
	var segs []string // character data before each child
	seg := 0          // where the current segment starts in text
	for {
		tok, err := next()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			var c Elem
			if err := c.read(next, t, depth+1); err != nil {
				return err
			}
			segs = append(segs, text.String()[seg:])
			seg = text.Len()
			e.Children = append(e.Children, c)
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			e.Text = text.String()
			if len(e.Children) > 0 && strings.TrimSpace(e.Text) != "" {
				e.Mixed = append(segs, e.Text[seg:])
			}
			return nil
		}
	}
}

// Child returns the first child named name, or nil.
func (e *Elem) Child(name xml.Name) *Elem {
	for i := range e.Children {
		if e.Children[i].XMLName == name {
			return &e.Children[i]
		}
	}
	return nil
}

// Attr returns the value of the attribute local (no namespace), or "".
func (e *Elem) Attr(local string) string {
	for _, a := range e.Attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// Marshal serializes e as a self-contained element: every element whose
// namespace differs from its parent's declares it as the default
// namespace, so the text can be stored (dead properties) and written back
// inside any document unchanged. An Elem read from a body Root accepted
// gives well-formed XML; names that are not (ValidName) would not.
func (e *Elem) Marshal() string {
	var b strings.Builder
	e.marshal(&b, "\x00")
	return b.String()
}

func (e *Elem) marshal(b *strings.Builder, parentNS string) {
	b.WriteByte('<')
	b.WriteString(e.XMLName.Local)
	if e.XMLName.Space != parentNS {
		b.WriteString(` xmlns="`)
		b.WriteString(EscapeString(e.XMLName.Space))
		b.WriteByte('"')
	}
	for i, a := range e.Attrs {
		if a.Name.Space == NSXML {
			// The xml prefix is bound by definition and may be bound to
			// nothing else (Namespaces in XML 1.0 §3): xml:lang stays
			// xml:lang (RFC 4918 §4.3).
			fmt.Fprintf(b, ` xml:%s="%s"`, a.Name.Local, EscapeString(a.Value))
			continue
		}
		if a.Name.Space != "" {
			fmt.Fprintf(b, ` xmlns:a%d="%s" a%d:%s="%s"`, i, EscapeString(a.Name.Space), i, a.Name.Local, EscapeString(a.Value))
			continue
		}
		fmt.Fprintf(b, ` %s="%s"`, a.Name.Local, EscapeString(a.Value))
	}
	if len(e.Children) == 0 && e.Text == "" {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	if len(e.Children) == 0 {
		b.WriteString(EscapeString(e.Text))
	}
	for i := range e.Children {
		if len(e.Mixed) == len(e.Children)+1 {
			b.WriteString(EscapeString(e.Mixed[i]))
		}
		e.Children[i].marshal(b, e.XMLName.Space)
	}
	if len(e.Mixed) == len(e.Children)+1 && len(e.Children) > 0 {
		b.WriteString(EscapeString(e.Mixed[len(e.Children)]))
	}
	b.WriteString("</")
	b.WriteString(e.XMLName.Local)
	b.WriteByte('>')
}

// Names returns the element names of elems.
func Names(elems []Elem) []xml.Name {
	out := make([]xml.Name, len(elems))
	for i, e := range elems {
		out[i] = e.XMLName
	}
	return out
}

// WellFormedElement returns a stored dead property value as it may be
// written into a response: s itself when it is one namespace-well-formed
// element, else s read leniently and written again by Marshal (values
// stored before Root checked names bound xml:lang's namespace to a
// prefix of their own), and ok false when even that does not give
// well-formed XML: the property is then left out of the answer.
func WellFormedElement(s string) (string, bool) {
	if _, err := Root([]byte(s)); err == nil {
		return s, true
	}
	var e Elem
	if err := xml.Unmarshal([]byte(s), &e); err != nil || !e.validNames() {
		return "", false
	}
	out := e.Marshal()
	if _, err := Root([]byte(out)); err != nil {
		return "", false
	}
	return out, true
}

// validNames reports whether every element and attribute name of e can be
// written.
func (e *Elem) validNames() bool {
	if !ValidName(e.XMLName) {
		return false
	}
	for _, a := range e.Attrs {
		if !IsNCName(a.Name.Local) || a.Name.Space == nsXMLNS {
			return false
		}
	}
	for i := range e.Children {
		if !e.Children[i].validNames() {
			return false
		}
	}
	return true
}

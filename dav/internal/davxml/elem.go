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
}

// UnmarshalXML reads the element and everything inside it.
func (e *Elem) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	return e.read(d, start, 0)
}

func (e *Elem) read(d *xml.Decoder, start xml.StartElement, depth int) error {
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
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			var c Elem
			if err := c.read(d, t, depth+1); err != nil {
				return err
			}
			e.Children = append(e.Children, c)
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			e.Text = text.String()
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
// inside any document unchanged.
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
		e.Children[i].marshal(b, e.XMLName.Space)
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

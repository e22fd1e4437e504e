package davxml

import (
	"bytes"
	"encoding/xml"
)

// ParseReport checks a REPORT body as Root does and returns its root
// element's name. When the root is CALDAV:calendar-multiget or
// CARDDAV:addressbook-multiget it also returns the report, decoded from
// the same pass over the body exactly as xml.Unmarshal into a Multiget
// would decode it (FuzzParseReport compares them): a multiget of many
// hrefs is the one REPORT whose parsing shows in a profile, and parsing
// it a second time doubled that. Other reports give a nil Multiget; their
// bodies are decoded with DecodeChecked.
//
// Bodies in the form clients send are read by fastWalk, others (and
// every malformed one) by encoding/xml.
func ParseReport(body []byte) (xml.Name, *Multiget, error) {
	if err := precheck(body); err != nil {
		return xml.Name{}, nil, err
	}
	b := multigetBuilder{size: len(body)}
	root, ok := fastWalk(body, &b)
	if !ok {
		b = multigetBuilder{size: len(body)}
		var err error
		if root, err = walkChecked(body, b.visit); err != nil {
			return xml.Name{}, nil, err
		}
	}
	if !b.on {
		return root, nil, nil
	}
	b.finishHrefs()
	return root, &b.mg, nil
}

// multigetBuilder fills a Multiget from the tokens of a body as walk
// hands them over: the direct character data of each DAV:href child of
// the root, DAV:allprop and DAV:propname when present, and DAV:prop's
// children as Elems (read as Elem.UnmarshalXML reads them, from a copy
// of the prop's tokens). Everything else is skipped, as xml.Unmarshal
// skips elements a struct has no field for.
type multigetBuilder struct {
	mg     Multiget
	on     bool        // the root is a multiget
	inHref bool        // inside a DAV:href child of the root
	hrefs  []byte      // the character data of every DAV:href so far
	ends   []int       // where each DAV:href's data ends in hrefs
	size   int         // the body's length, which bounds hrefs'
	prop   []xml.Token // the tokens of the DAV:prop being read, copied
}

// visit is the builder as walk's visitor: it hands each token to the
// method of its kind, fastWalk's visitor interface.
func (b *multigetBuilder) visit(tok xml.Token, depth int) error {
	switch t := tok.(type) {
	case xml.StartElement:
		return b.start(t, depth)
	case xml.EndElement:
		return b.end(t.Name, depth)
	case xml.CharData:
		return b.text(t, depth)
	}
	if b.prop != nil && b.on && depth >= 2 {
		b.prop = append(b.prop, xml.CopyToken(tok)) // a comment or processing instruction
	}
	return nil
}

func (b *multigetBuilder) start(t xml.StartElement, depth int) error {
	if depth == 1 {
		b.on = t.Name == C("calendar-multiget") || t.Name == CR("addressbook-multiget")
		b.mg.XMLName = t.Name
		return nil
	}
	if !b.on || depth < 2 {
		return nil
	}
	if b.prop != nil {
		b.prop = append(b.prop, xml.CopyToken(t))
		return nil
	}
	if depth != 2 {
		return nil
	}
	switch t.Name {
	case D("href"):
		b.inHref = true
		if b.hrefs == nil { // all of them in one buffer
			b.hrefs = make([]byte, 0, b.size)
			b.ends = make([]int, 0, 64)
		}
	case D("allprop"):
		if b.mg.AllProp == nil {
			b.mg.AllProp = &struct{}{}
		}
	case D("propname"):
		if b.mg.PropName == nil {
			b.mg.PropName = &struct{}{}
		}
	case D("prop"):
		b.prop = append(b.prop, xml.CopyToken(t))
	}
	return nil
}

func (b *multigetBuilder) end(name xml.Name, depth int) error {
	if !b.on || depth < 2 {
		return nil
	}
	if b.prop != nil {
		b.prop = append(b.prop, xml.EndElement{Name: name})
		if depth == 2 {
			return b.endProp()
		}
		return nil
	}
	if b.inHref && depth == 2 {
		b.ends = append(b.ends, len(b.hrefs))
		b.inHref = false
	}
	return nil
}

// finishHrefs sets b.mg.Hrefs to the DAV:hrefs read, substrings of one
// string: one allocation for a multiget's hundred hrefs, not one each.
func (b *multigetBuilder) finishHrefs() {
	if len(b.ends) == 0 {
		return
	}
	all := string(b.hrefs)
	b.mg.Hrefs = make([]string, len(b.ends))
	start := 0
	for i, end := range b.ends {
		b.mg.Hrefs[i] = all[start:end]
		start = end
	}
}

func (b *multigetBuilder) text(t []byte, depth int) error {
	if !b.on || depth < 2 {
		return nil
	}
	if b.prop != nil {
		b.prop = append(b.prop, xml.CharData(bytes.Clone(t)))
		return nil
	}
	if b.inHref && depth == 2 {
		b.hrefs = append(b.hrefs, t...)
	}
	return nil
}

// endProp reads the children of the DAV:prop whose tokens b.prop holds
// (its start and end element included) into b.mg.Prop; a second DAV:prop
// adds to the first, as xml.Unmarshal does.
func (b *multigetBuilder) endProp() error {
	toks := b.prop[1 : len(b.prop)-1]
	b.prop = nil
	if b.mg.Prop == nil {
		b.mg.Prop = &Prop{}
	}
	next := func() (xml.Token, error) {
		t := toks[0]
		toks = toks[1:]
		return t, nil
	}
	for len(toks) > 0 {
		start, ok := toks[0].(xml.StartElement)
		toks = toks[1:]
		if !ok {
			continue // character data, comments between the properties
		}
		var e Elem
		if err := e.read(next, start, 0); err != nil {
			return err
		}
		b.mg.Prop.Props = append(b.mg.Prop.Props, e)
	}
	return nil
}

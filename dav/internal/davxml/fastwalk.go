package davxml

import (
	"bytes"
	"encoding/xml"
)

// fastWalk is walk for the bodies clients send, without encoding/xml's
// tokenizer, which was a fifth of a 100-object multiget's CPU (a name
// string, an attribute slice and an interface conversion per token, a
// ReadByte call per byte). It reads only a narrow form of XML: ASCII
// text without references, "&", ">", CR or control characters; names
// of letters, digits and "_.-" with at most one prefix, every prefix
// declared; unprefixed attributes and namespace declarations only, each
// once, values in quotes; an XML declaration of version 1.0 in UTF-8; no
// comments, CDATA sections, processing instructions or DOCTYPE. On
// anything else, and on any error (its own or v's), ok is false and
// the caller must start again with walk, discarding what v saw:
// errors and their messages come from walk alone.
//
// Where ok is true the tokens and depths handed to v are the ones
// walk hands over for the same body (FuzzFastWalk), the XML declaration
// left out. The element and attribute names are written here, not by
// encoding/xml: this is the glue that lets a multiget's hrefs cost
// about a copy, and it gives up rather than guess.
func fastWalk(body []byte, v tokenVisitor) (root xml.Name, ok bool) {
	s := body
	if bytes.HasPrefix(s, []byte("<?xml")) {
		end := bytes.Index(s, []byte("?>"))
		if end < 0 || !plainDeclaration(s[len("<?xml"):end]) {
			return xml.Name{}, false
		}
		s = s[end+2:]
	}
	type open struct {
		raw   []byte // the name as written, for the end tag
		binds int    // namespace bindings it pushed
	}
	var (
		stack []open
		binds []binding
		ns    nsChecker
		attrs []xml.Attr
		done  bool
		// sib is the last start tag without attributes: a sibling
		// written the same way, inside the same parent, gets the same
		// name and passes the same checks (the bindings in scope are
		// the parent's), so a run of them (a multiget's hrefs) is read
		// without resolving and checking each.
		sib struct {
			raw   []byte
			name  xml.Name
			depth int
		}
	)
	for len(s) > 0 {
		if sib.raw != nil && len(stack) == sib.depth-1 {
			if text, n := sameLeaf(s, sib.raw); n > 0 {
				start := xml.StartElement{Name: sib.name, Attr: []xml.Attr{}}
				if v.start(start, sib.depth) != nil ||
					(len(text) > 0 && v.text(text, sib.depth) != nil) ||
					v.end(sib.name, sib.depth) != nil {
					return xml.Name{}, false
				}
				s = s[n:]
				continue
			}
		}
		if s[0] != '<' {
			n := textLen(s)
			if n == 0 {
				return xml.Name{}, false
			}
			text := s[:n]
			s = s[n:]
			if len(stack) == 0 && !isSpace(text) {
				return xml.Name{}, false
			}
			if v.text(text, len(stack)) != nil {
				return xml.Name{}, false
			}
			continue
		}
		if len(s) > 1 && s[1] == '/' {
			n := nameLen(s[2:])
			if n == 0 || len(stack) == 0 {
				return xml.Name{}, false
			}
			top := stack[len(stack)-1]
			rest := trimTagSpace(s[2+n:])
			if !bytes.Equal(s[2:2+n], top.raw) || len(rest) == 0 || rest[0] != '>' {
				return xml.Name{}, false
			}
			name, ok := resolve(top.raw, binds)
			if !ok {
				return xml.Name{}, false
			}
			depth := len(stack)
			if depth < sib.depth { // the parent of the remembered tag ends
				sib.raw = nil
			}
			stack = stack[:len(stack)-1]
			ns.end()
			binds = binds[:len(binds)-top.binds]
			if v.end(name, depth) != nil {
				return xml.Name{}, false
			}
			s = rest[1:]
			if len(stack) == 0 {
				done = true
			}
			continue
		}
		// A start tag.
		if done {
			return xml.Name{}, false // a second root element
		}
		n := nameLen(s[1:])
		if n == 0 {
			return xml.Name{}, false
		}
		raw := s[1 : 1+n]
		s = s[1+n:]
		attrs = attrs[:0]
		pushed := 0
		empty := false
		for {
			t := trimTagSpace(s)
			if len(t) == 0 {
				return xml.Name{}, false
			}
			if t[0] == '>' {
				s = t[1:]
				break
			}
			if t[0] == '/' {
				if len(t) < 2 || t[1] != '>' {
					return xml.Name{}, false
				}
				s, empty = t[2:], true
				break
			}
			if len(t) == len(s) { // no space before an attribute
				return xml.Name{}, false
			}
			a, rest, ok := attribute(t)
			if !ok {
				return xml.Name{}, false
			}
			for _, b := range attrs {
				if b.Name == a.Name {
					return xml.Name{}, false
				}
			}
			switch {
			case a.Name.Space == "xmlns":
				binds = append(binds, binding{a.Name.Local, a.Value})
				pushed++
			case a.Name.Local == "xmlns":
				binds = append(binds, binding{"", a.Value})
				pushed++
			}
			attrs = append(attrs, a)
			s = rest
		}
		name, ok := resolve(raw, binds)
		if !ok {
			return xml.Name{}, false
		}
		if len(stack) == 0 {
			root = name
		}
		stack = append(stack, open{raw, pushed})
		if len(stack) > maxDepth {
			return xml.Name{}, false
		}
		start := xml.StartElement{Name: name, Attr: []xml.Attr{}}
		if len(attrs) > 0 {
			start.Attr = append([]xml.Attr(nil), attrs...)
		}
		if ns.start(start) != nil || v.start(start, len(stack)) != nil {
			return xml.Name{}, false
		}
		if len(attrs) == 0 && !empty && len(stack) > 1 { // not the root: a second one is an error
			sib.raw, sib.name, sib.depth = raw, name, len(stack)
		}
		if empty {
			depth := len(stack)
			stack = stack[:len(stack)-1]
			ns.end()
			binds = binds[:len(binds)-pushed]
			if v.end(name, depth) != nil {
				return xml.Name{}, false
			}
			if len(stack) == 0 {
				done = true
			}
		}
	}
	return root, done
}

// sameLeaf matches <raw>text</raw> at the start of s, written exactly so
// (no spaces in the tags, text as textLen admits it, possibly empty), and
// returns the text and the length of the whole; n is 0 when s starts with
// anything else.
func sameLeaf(s, raw []byte) (text []byte, n int) {
	k := len(raw)
	if len(s) < 2*k+5 || s[0] != '<' || s[k+1] != '>' || !bytes.Equal(s[1:k+1], raw) {
		return nil, 0
	}
	t := s[k+2:]
	m := 0
	if t[0] != '<' {
		if m = textLen(t); m == 0 {
			return nil, 0
		}
	}
	e := t[m:]
	if len(e) < k+3 || e[1] != '/' || e[k+2] != '>' || !bytes.Equal(e[2:k+2], raw) {
		return nil, 0
	}
	return t[:m], k + 2 + m + k + 3
}

// tokenVisitor takes the tokens fastWalk reads, as walk's visit function
// does, without putting each in an interface value (an allocation per
// token): start and end elements at the depth of the element, character
// data at the depth of its parent. The values are valid until the call
// returns.
type tokenVisitor interface {
	start(t xml.StartElement, depth int) error
	end(name xml.Name, depth int) error
	text(t []byte, depth int) error
}

// binding is one namespace declaration in scope: prefix ("" for the
// default namespace) bound to uri.
type binding struct{ prefix, uri string }

// resolve returns the name of an element written raw, its prefix
// replaced by the namespace bound to it as encoding/xml does; ok is false
// for an undeclared prefix and the reserved ones, which fastWalk leaves
// to walk.
func resolve(raw []byte, binds []binding) (xml.Name, bool) {
	prefix, local, found := bytes.Cut(raw, []byte(":"))
	if !found {
		local, prefix = prefix, nil
	}
	if string(prefix) == "xml" || string(prefix) == "xmlns" {
		return xml.Name{}, false
	}
	for i := len(binds) - 1; i >= 0; i-- {
		if binds[i].prefix == string(prefix) {
			return xml.Name{Space: binds[i].uri, Local: internName(local)}, true
		}
	}
	if prefix != nil {
		return xml.Name{}, false
	}
	return xml.Name{Local: internName(local)}, true
}

// internName returns the names of a multiget without allocating.
func internName(b []byte) string {
	switch string(b) {
	case "href":
		return "href"
	case "prop":
		return "prop"
	case "getetag":
		return "getetag"
	case "getcontenttype":
		return "getcontenttype"
	case "calendar-data":
		return "calendar-data"
	case "address-data":
		return "address-data"
	case "calendar-multiget":
		return "calendar-multiget"
	case "addressbook-multiget":
		return "addressbook-multiget"
	}
	return string(b)
}

// attribute reads name="value" (or 'value') at the start of s: an
// unprefixed attribute or a namespace declaration.
func attribute(s []byte) (xml.Attr, []byte, bool) {
	n := nameLen(s)
	if n == 0 || len(s) < n+3 || s[n] != '=' || (s[n+1] != '"' && s[n+1] != '\'') {
		return xml.Attr{}, nil, false
	}
	raw, q := s[:n], s[n+1]
	v := s[n+2:]
	end := bytes.IndexByte(v, q)
	if end < 0 {
		return xml.Attr{}, nil, false
	}
	for _, c := range v[:end] {
		if c < 0x20 || c > 0x7E || c == '<' || c == '&' {
			return xml.Attr{}, nil, false
		}
	}
	var name xml.Name
	switch prefix, local, found := bytes.Cut(raw, []byte(":")); {
	case !found:
		name.Local = string(raw)
	case string(prefix) == "xmlns":
		name = xml.Name{Space: "xmlns", Local: string(local)}
	default:
		return xml.Attr{}, nil, false
	}
	return xml.Attr{Name: name, Value: string(v[:end])}, v[end+1:], true
}

// nameLen returns the length of the name at the start of s: a local
// name, or prefix:local, each a letter or "_" followed by letters,
// digits and "_.-"; 0 when s does not start with one that ends there.
func nameLen(s []byte) int {
	n, colon := 0, false
	for n < len(s) {
		c := s[n]
		first := n == 0 || s[n-1] == ':'
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case !first && ('0' <= c && c <= '9' || c == '.' || c == '-'):
		case c == ':' && !first && !colon:
			colon = true
		default:
			if first || !nameEnd(c) {
				return 0
			}
			return n
		}
		n++
	}
	return 0
}

// nameEnd reports whether c may follow a name in a tag.
func nameEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '>' || c == '/' || c == '='
}

// trimTagSpace drops the spaces, tabs and line feeds at the start of s.
func trimTagSpace(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n') {
		s = s[1:]
	}
	return s
}

// textLen returns the length of the character data at the start of s,
// up to the next "<"; 0 when it holds a byte fastWalk leaves to walk.
// It steps over eight bytes at a time while none is one to look at (a
// multiget's hrefs), and looks at the bytes of a word one by one
// otherwise.
func textLen(s []byte) int {
	i := 0
	for {
		for i+8 <= len(s) && plainWord(load64(s, i)) {
			i += 8
		}
		for end := min(i+8, len(s)); i < end; i++ {
			switch c := s[i]; {
			case c == '<':
				return i
			case c >= 0x20 && c <= 0x7E && c != '&' && c != '>', c == '\t', c == '\n':
			default:
				return 0
			}
		}
		if i == len(s) {
			return i
		}
	}
}

// plainWord reports whether the eight bytes in x are all printable ASCII
// that textLen takes without a look: none below 0x20 or above 0x7D, and
// none of '"', '&', '\”, '<' and '>' (of which textLen stops at '<',
// rejects '&' and '>' and takes the quotes, one by one).
func plainWord(x uint64) bool {
	return !mayNeedLook(x) && hasZero(x^0x7F*ones) == 0
}

// isSpace reports whether text is all spaces, tabs and line feeds.
func isSpace(text []byte) bool { return len(trimTagSpace(text)) == 0 }

// plainDeclaration reports whether the inside of an XML declaration is
// one of the usual ones: version 1.0, UTF-8 or no encoding.
func plainDeclaration(s []byte) bool {
	switch string(bytes.TrimRight(s, " ")) {
	case ` version="1.0" encoding="UTF-8"`, ` version="1.0" encoding="utf-8"`,
		` version='1.0' encoding='UTF-8'`, ` version='1.0' encoding='utf-8'`,
		` version="1.0"`, ` version='1.0'`:
		return true
	}
	return false
}

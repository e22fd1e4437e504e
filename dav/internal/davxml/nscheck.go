package davxml

import (
	"encoding/xml"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The namespaces Namespaces in XML 1.0 §3 reserves: the xml prefix is
// bound to NSXML and nothing else may be; NSXMLNS may never be bound.
const (
	NSXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"
)

// nsChecker follows the namespace declarations in scope while Root walks a
// document, so that names can be checked against them. encoding/xml
// leaves an undeclared prefix in Name.Space as if it were a namespace
// ("<x:a>" gives {x}a), accepts local parts that are not NCNames
// ("<A:0>" gives {A}0) and does not look for duplicate attributes: stored
// as dead properties, such names made every later PROPFIND ill-formed.
type nsChecker struct {
	inScope map[string]int    // namespace name -> declarations in scope
	frames  [][]string        // per open element, the namespaces it declared
	attrs   map[xml.Name]bool // scratch for the duplicate check
}

// start checks a start element as Decoder.Token returns it (names already
// resolved) and opens its scope.
func (c *nsChecker) start(t xml.StartElement) error {
	if c.inScope == nil {
		c.inScope = map[string]int{}
	}
	var declared []string
	for _, a := range t.Attr {
		switch {
		case a.Name.Space == "xmlns":
			if err := checkBinding(a.Name.Local, a.Value); err != nil {
				return err
			}
			if a.Name.Local == "xml" {
				continue // may be declared, to its own namespace only
			}
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			if a.Value == NSXML || a.Value == nsXMLNS {
				return fmt.Errorf("davxml: malformed XML: the default namespace cannot be %q", a.Value)
			}
			if a.Value == "" {
				continue
			}
		default:
			continue
		}
		declared = append(declared, a.Value)
		c.inScope[a.Value]++
	}
	c.frames = append(c.frames, declared)
	if err := c.name(t.Name, "element"); err != nil {
		return err
	}
	if t.Name.Space == NSXML {
		return fmt.Errorf("davxml: malformed XML: element %s in the xml namespace", t.Name.Local)
	}
	clear(c.attrs)
	for _, a := range t.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		if err := c.name(a.Name, "attribute"); err != nil {
			return err
		}
		if c.attrs == nil {
			c.attrs = map[xml.Name]bool{}
		}
		if c.attrs[a.Name] {
			return fmt.Errorf("davxml: malformed XML: attribute %s appears twice on %s", a.Name.Local, t.Name.Local)
		}
		c.attrs[a.Name] = true
	}
	return nil
}

// end closes the innermost scope.
func (c *nsChecker) end() {
	n := len(c.frames) - 1
	if n < 0 {
		return
	}
	for _, ns := range c.frames[n] {
		if c.inScope[ns]--; c.inScope[ns] == 0 {
			delete(c.inScope, ns)
		}
	}
	c.frames = c.frames[:n]
}

// name checks that n's local part is an NCName and that its namespace,
// when it has one, was declared (xml is always declared).
func (c *nsChecker) name(n xml.Name, what string) error {
	if !IsNCName(n.Local) {
		return fmt.Errorf("davxml: malformed XML: %s name %q is not a valid name", what, n.Local)
	}
	if n.Space != "" && n.Space != NSXML && c.inScope[n.Space] == 0 {
		return fmt.Errorf("davxml: malformed XML: namespace prefix %q of %s %s is not declared", n.Space, what, n.Local)
	}
	return nil
}

// checkBinding checks the declaration xmlns:prefix="uri" (Namespaces in
// XML 1.0 §3, "Reserved Prefixes and Namespace Names", "No Prefix
// Undeclaring").
func checkBinding(prefix, uri string) error {
	switch {
	case !IsNCName(prefix):
		return fmt.Errorf("davxml: malformed XML: namespace prefix %q is not a valid name", prefix)
	case uri == "":
		return fmt.Errorf("davxml: malformed XML: namespace prefix %q bound to the empty name", prefix)
	case prefix == "xmlns":
		return fmt.Errorf("davxml: malformed XML: the prefix xmlns cannot be declared")
	case prefix == "xml" && uri != NSXML, prefix != "xml" && uri == NSXML:
		return fmt.Errorf("davxml: malformed XML: only the prefix xml may be bound to %s", NSXML)
	case uri == nsXMLNS:
		return fmt.Errorf("davxml: malformed XML: no prefix may be bound to %s", nsXMLNS)
	}
	return nil
}

// IsNCName reports whether s can be the local part of a qualified name
// (Namespaces in XML 1.0 §3): a name without a colon. It assumes the
// characters were checked by encoding/xml, which admits every XML name
// character, and looks only at what encoding/xml does not: the colon and
// the characters that may not start a name.
func IsNCName(s string) bool {
	if s == "" || strings.IndexByte(s, ':') >= 0 {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	switch {
	case r == '-', r == '.', r == 0xB7, r == 0x203F, r == 0x2040, r == utf8.RuneError:
		return false
	case unicode.IsDigit(r), unicode.IsMark(r), unicode.Is(unicode.Nd, r):
		return false
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '_' || r == '-' || r == '.' ||
			r == 0xB7 || r == 0x203F || r == 0x2040 || unicode.Is(unicode.Nl, r) || r > 0xFF) {
			return false
		}
	}
	return true
}

// ValidName reports whether n can be written as an element name: an
// NCName local part, outside the xml namespace.
func ValidName(n xml.Name) bool {
	return IsNCName(n.Local) && n.Space != NSXML && n.Space != nsXMLNS
}

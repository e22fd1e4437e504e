package davxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// ErrDTD is returned for a body holding a document type declaration or an
// entity declaration: Almanac refuses them outright, so entity expansion
// ("billion laughs") and external entities (XXE) can never happen.
var ErrDTD = errors.New("davxml: DOCTYPE and ENTITY declarations are not allowed")

// maxDepth bounds element nesting in request bodies.
const maxDepth = 64

// Decode parses body into v (a pointer to one of the request element types
// of this package) after checking that body holds no DTD and does not nest
// deeper than maxDepth. It wraps ErrDTD or the parser's error.
func Decode(body []byte, v any) error {
	if _, err := Root(body); err != nil {
		return err
	}
	return DecodeChecked(body, v)
}

// DecodeChecked parses body into v like Decode, for a body that Root has
// already accepted: it skips Root's scan.
func DecodeChecked(body []byte, v any) error {
	if err := xml.Unmarshal(body, v); err != nil {
		return fmt.Errorf("davxml: malformed XML: %w", err)
	}
	return nil
}

// Root returns the name of body's root element after scanning the whole
// document for DTDs, the budget of elements and attributes (MaxElements,
// MaxAttrs, MaxAttrsPerElement), excess depth, syntax errors and names
// that are not namespace-well-formed (Namespaces in XML 1.0): undeclared
// prefixes, local names that are not NCNames, reserved prefixes and
// namespaces bound or used wrongly, duplicate attributes.
func Root(body []byte) (xml.Name, error) {
	return walk(body, nil)
}

// walk is Root, handing each token that passed the checks to visit (when
// not nil) with the number of elements open: for a start element
// including it, for an end element including the one it ends. A token is
// valid only during the call, as Decoder.Token has it.
func walk(body []byte, visit func(tok xml.Token, depth int) error) (xml.Name, error) {
	if err := precheck(body); err != nil {
		return xml.Name{}, err
	}
	return walkChecked(body, visit)
}

// precheck refuses a body with a DTD or over the budget, before it is
// tokenized.
func precheck(body []byte) error {
	if hasBang(body) && (containsFold(body, "<!DOCTYPE") || containsFold(body, "<!ENTITY")) {
		return ErrDTD
	}
	return checkBudget(body)
}

// walkChecked is walk for a body that passed precheck.
func walkChecked(body []byte, visit func(tok xml.Token, depth int) error) (xml.Name, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	var root xml.Name
	var ns nsChecker
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return xml.Name{}, fmt.Errorf("davxml: malformed XML: %w", err)
		}
		at := depth
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if root.Local != "" {
					return xml.Name{}, errors.New("davxml: malformed XML: more than one root element")
				}
				root = t.Name
			}
			if depth++; depth > maxDepth {
				return xml.Name{}, fmt.Errorf("davxml: elements nested deeper than %d", maxDepth)
			}
			if err := ns.start(t); err != nil {
				return xml.Name{}, err
			}
			at = depth
		case xml.EndElement:
			depth--
			ns.end()
		case xml.Directive:
			return xml.Name{}, ErrDTD
		}
		if visit != nil {
			if err := visit(tok, at); err != nil {
				return xml.Name{}, err
			}
		}
	}
	if root.Local == "" {
		return xml.Name{}, errors.New("davxml: malformed XML: no root element")
	}
	return root, nil
}

// hasBang reports whether b contains "<!", which every string
// containsFold looks for starts with: '!' is rare in a request body, so
// one IndexByte scan usually answers for all of b.
func hasBang(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '!')
		if i < 0 {
			return false
		}
		if i > 0 && b[i-1] == '<' {
			return true
		}
		b = b[i+1:]
	}
}

// containsFold reports whether b contains s, an upper-case ASCII string
// starting with '<', in any case, without copying b.
func containsFold(b []byte, s string) bool {
	for i := bytes.IndexByte(b, '<'); i >= 0; {
		if len(b)-i >= len(s) && bytes.EqualFold(b[i:i+len(s)], []byte(s)) {
			return true
		}
		j := bytes.IndexByte(b[i+1:], '<')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

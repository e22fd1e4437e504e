package query

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
)

// AddressbookQuery is a parsed CARDDAV:addressbook-query REPORT body
// (RFC 6352 §8.6).
type AddressbookQuery struct {
	// AllOf is the filter's test="allof" (default anyof).
	AllOf bool
	// Props are the filter's prop-filters; none matches every card.
	Props []PropFilter
	// Data is the address-data element of DAV:prop; nil when not asked.
	Data *AddressData
	// Limit is CARDDAV:limit/nresults; 0 means no limit.
	Limit int
}

// AddressData is CARDDAV:address-data (RFC 6352 §10.4).
type AddressData struct {
	// Props lists the properties to return; nil returns all.
	Props []PropSel
	// Version is the vCard version asked for ("3.0" or "4.0"), or ""
	// for the stored one.
	Version string
}

type xmlAddressbookQuery struct {
	Prop   *davxml.Prop `xml:"DAV: prop"`
	Filter *xmlFilter   `xml:"urn:ietf:params:xml:ns:carddav filter"`
	Limit  *struct {
		NResults string `xml:"nresults"`
	} `xml:"urn:ietf:params:xml:ns:carddav limit"`
}

// maxNResults bounds CARDDAV:nresults.
const maxNResults = 1 << 20

// ParseAddressbookQuery parses an addressbook-query body.
//
// Errors are *Error: 400 for malformed XML, 403 with CARDDAV:valid-filter,
// CARDDAV:supported-filter, CARDDAV:supported-collation or
// CARDDAV:supported-address-data.
func ParseAddressbookQuery(body []byte) (*AddressbookQuery, error) {
	var x xmlAddressbookQuery
	if err := decode(body, NSCardDAV, "addressbook-query", &x); err != nil {
		return nil, err
	}
	if x.Filter == nil {
		return nil, errCardValidFilter("addressbook-query without filter")
	}
	q := &AddressbookQuery{}
	switch x.Filter.Test {
	case "", "anyof":
	case "allof":
		q.AllOf = true
	default:
		return nil, errCardValidFilter("test %q", x.Filter.Test)
	}
	if len(x.Filter.CompFilters) > 0 {
		return nil, errCardValidFilter("comp-filter in an addressbook-query")
	}
	for _, pf := range x.Filter.PropFilters {
		f, err := parsePropFilter(NSCardDAV, pf)
		if err != nil {
			return nil, err
		}
		q.Props = append(q.Props, f)
	}
	if x.Limit != nil {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(x.Limit.NResults), &n); err != nil || n <= 0 || n > maxNResults {
			return nil, errBadRequest("nresults %q", x.Limit.NResults)
		}
		q.Limit = n
	}
	d, err := ParseAddressData(x.Prop)
	if err != nil {
		return nil, err
	}
	q.Data = d
	return q, nil
}

// Card is a stored vCard parsed for querying.
type Card struct {
	Body []byte
	node *Node
}

// ParseCard parses an address object resource: one vCard.
func ParseCard(body []byte) (*Card, error) {
	roots, err := ParseContent(body)
	if err != nil {
		return nil, err
	}
	if len(roots) != 1 || roots[0].Name != "VCARD" {
		return nil, fmt.Errorf("query: not one VCARD")
	}
	return &Card{Body: body, node: roots[0]}, nil
}

// Match evaluates the filter against c (RFC 6352 §10.5).
func (q *AddressbookQuery) Match(c *Card) bool {
	if len(q.Props) == 0 {
		return true
	}
	for _, pf := range q.Props {
		ok := cardPropMatches(c.node, pf)
		if ok && !q.AllOf {
			return true
		}
		if !ok && q.AllOf {
			return false
		}
	}
	return q.AllOf
}

// cardPropMatches applies a CARDDAV:prop-filter (RFC 6352 §10.5.1).
func cardPropMatches(n *Node, f PropFilter) bool {
	var props []*Line
	for _, l := range n.Props {
		if l.Name == f.Name {
			props = append(props, l)
		}
	}
	if f.IsNotDefined {
		return len(props) == 0
	}
	for _, l := range props {
		if cardLinePasses(l, f) {
			return true
		}
	}
	return false
}

func cardLinePasses(l *Line, f PropFilter) bool {
	n := len(f.TextMatches) + len(f.Params)
	if n == 0 {
		return true
	}
	hits := 0
	value := unescapeText(l.Value)
	for i := range f.TextMatches {
		if f.TextMatches[i].Matches(value) {
			hits++
		}
	}
	for _, pf := range f.Params {
		if paramPasses(lineParamValues(l, pf.Name), pf) {
			hits++
		}
	}
	if f.AllOf {
		return hits == n
	}
	return hits > 0
}

func lineParamValues(l *Line, name string) []string {
	var out []string
	for _, p := range l.Params {
		if p.Name == name {
			out = append(out, p.Values...)
		}
	}
	return out
}

// Shaped reports whether the output may differ from the stored body: d
// selects properties or asks for a vCard version, which may be the
// stored one.
func (d *AddressData) Shaped() bool {
	return d != nil && (d.Props != nil || d.Version != "")
}

// Render returns the address data to send for c (RFC 6352 §10.4): the
// stored body byte for byte unless d selects properties or asks for
// another vCard version.
func (d *AddressData) Render(c *Card) []byte {
	if !d.Shaped() || d.Props == nil && d.Version == cardVersion(c.node) {
		return c.Body
	}
	n := c.node
	if d.Version != "" && d.Version != cardVersion(n) {
		n = convertCard(n, d.Version)
	}
	if d.Props != nil {
		sel := append([]PropSel{{Name: "VERSION"}}, d.Props...)
		n = &Node{Name: n.Name, Props: selectProps(n.Props, false, sel)}
	}
	var b bytes.Buffer
	n.Write(&b)
	return b.Bytes()
}

func cardVersion(n *Node) string {
	if v := n.Prop("VERSION"); v != nil {
		return strings.TrimSpace(v.Value)
	}
	return ""
}

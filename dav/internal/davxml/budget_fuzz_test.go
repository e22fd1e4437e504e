package davxml

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"
)

// FuzzBudget checks the budget scan against encoding/xml: on every
// document encoding/xml accepts (without directives), the scan counts
// exactly the elements and attributes the parser sees, so a body passes
// with the exact counts as bounds and fails with any of them one lower.
// An undercount would let a body past the budget.
func FuzzBudget(f *testing.F) {
	for _, s := range []string{
		`<a b="1" c='2'><d e="=>"/><!-- <x y="1"/> --><![CDATA[<z a="1"/>]]><?pi a="1"?></a>`,
		`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>`,
		`<a>x=y<b c = "3"/></a>`,
		`<a b="'" c='"'/>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		exact, ok := countXML(body)
		if !ok {
			scanBudget(body, budget{1, 1, 1}) // must not panic
			return
		}
		if err := scanBudget(body, exact); err != nil {
			t.Fatalf("scan with the exact counts %+v: %v", exact, err)
		}
		for _, lower := range []budget{
			{exact.elements - 1, exact.attrs, exact.perElement},
			{exact.elements, exact.attrs - 1, exact.perElement},
			{exact.elements, exact.attrs, exact.perElement - 1},
		} {
			if lower.elements < 0 || lower.attrs < 0 || lower.perElement < 0 {
				continue
			}
			if scanBudget(body, lower) == nil {
				t.Fatalf("scan with %+v passed; the document has %+v", lower, exact)
			}
		}
	})
}

// countXML counts elements and attributes (namespace declarations
// included) with encoding/xml; ok is false when it refuses the document
// or the document holds a directive.
func countXML(body []byte) (budget, bool) {
	d := xml.NewDecoder(bytes.NewReader(body))
	var b budget
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return budget{}, false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			b.elements++
			b.attrs += len(t.Attr)
			b.perElement = max(b.perElement, len(t.Attr))
		case xml.Directive:
			return budget{}, false
		}
	}
	return b, b.elements > 0
}

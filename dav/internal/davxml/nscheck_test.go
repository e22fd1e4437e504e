package davxml

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"
)

// TestRootNamespaces: Root refuses what is not namespace-well-formed
// (Namespaces in XML 1.0 §3) and accepts what is.
func TestRootNamespaces(t *testing.T) {
	for _, c := range []struct {
		name, body string
		ok         bool
	}{
		{"OK", `<D:a xmlns:D="DAV:"><x:b xmlns:x="urn:x" x:c="1" c="2" xml:lang="en"/></D:a>`, true},
		{"OKDefaultUndeclared", `<a xmlns="urn:a"><b xmlns=""/></a>`, true},
		{"OKXMLDeclared", `<a xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="de"/>`, true},
		{"OKNoNamespace", `<a b="1"/>`, true},
		{"ErrFuzzFinding", `<x:a A:0="00000" A="0"><A:0/></x:a>`, false},
		{"ErrUnboundElementPrefix", `<x:a/>`, false},
		{"ErrUnboundAttrPrefix", `<a y:b="1"/>`, false},
		{"ErrLocalNotNCName", `<a xmlns:A="urn:a"><A:0/></a>`, false},
		{"ErrAttrLocalNotNCName", `<a xmlns:A="urn:a" A:0="x"/>`, false},
		{"ErrColonInLocal", `<a xmlns:A="urn:a"><A:b:c/></a>`, false},
		{"ErrTrailingColon", `<a:/>`, false},
		{"ErrXMLRebound", `<a xmlns:a0="http://www.w3.org/XML/1998/namespace" a0:lang="en"/>`, false},
		{"ErrXMLPrefixOther", `<a xmlns:xml="urn:other"/>`, false},
		{"ErrXMLNSDeclared", `<a xmlns:xmlns="urn:x"/>`, false},
		{"ErrDefaultXML", `<a xmlns="http://www.w3.org/XML/1998/namespace"/>`, false},
		{"ErrElementXML", `<xml:a/>`, false},
		{"ErrDuplicateAttr", `<a b="1" b="2"/>`, false},
		{"ErrDuplicateExpanded", `<a xmlns:x="urn:u" xmlns:y="urn:u" x:b="1" y:b="2"/>`, false},
		{"ErrEmptyPrefixBinding", `<a xmlns:foo=""/>`, false},
		{"ErrPrefixOutOfScope", `<a><b xmlns:x="urn:x"/><x:c/></a>`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Root([]byte(c.body))
			if (err == nil) != c.ok {
				t.Fatalf("Root(%s) = %v, want ok=%v", c.body, err, c.ok)
			}
		})
	}
}

// TestBudget: bodies over the element and attribute budget are refused
// before they are parsed; comments and quoted values do not count.
func TestBudget(t *testing.T) {
	many := func(n int, s string) string { return strings.Repeat(s, n) }
	for _, c := range []struct {
		name, body string
		ok         bool
	}{
		{"OKAttrsPerElement", `<a ` + many(MaxAttrsPerElement, "") + attrs(MaxAttrsPerElement) + `/>`, true},
		{"ErrAttrsPerElement", `<a ` + attrs(MaxAttrsPerElement+1) + `/>`, false},
		{"OKQuotedEquals", `<a b="` + many(1000, "=") + `" c='` + many(1000, "=>") + `'/>`, true},
		{"OKComment", `<a><!--` + many(MaxElements+1, "<b/>") + `--></a>`, true},
		{"OKCDATA", `<a><![CDATA[` + many(MaxElements+1, "<b/>") + `]]></a>`, true},
		{"ErrElements", `<a>` + many(MaxElements, "<b/>") + `</a>`, false},
		{"ErrAttrsTotal", `<a>` + many(MaxAttrs/MaxAttrsPerElement+1, "<b "+attrs(MaxAttrsPerElement)+"/>") + `</a>`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Root([]byte(c.body))
			if (err == nil) != c.ok {
				t.Fatalf("Root = %v, want ok=%v", err, c.ok)
			}
			if !c.ok && !errors.Is(err, ErrBudget) {
				t.Fatalf("Root = %v, want ErrBudget", err)
			}
		})
	}
}

func attrs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" a")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(string(rune('a' + i/26)))
		b.WriteString(`="1"`)
	}
	return b.String()
}

// TestMarshalXMLLang: xml:lang keeps its prefix (RFC 4918 §4.3); binding
// another prefix to the xml namespace is not namespace-well-formed.
func TestMarshalXMLLang(t *testing.T) {
	var e Elem
	if err := Decode([]byte(`<x:title xmlns:x="urn:x" xml:lang="en-US">Hi</x:title>`), &e); err != nil {
		t.Fatal(err)
	}
	got, want := e.Marshal(), `<title xmlns="urn:x" xml:lang="en-US">Hi</title>`
	if got != want {
		t.Fatalf("Marshal = %s, want %s", got, want)
	}
	if _, err := Root([]byte(got)); err != nil {
		t.Fatal(err)
	}
}

// TestWellFormedElement: values stored before names were checked are
// repaired when they can be and left out when they cannot.
func TestWellFormedElement(t *testing.T) {
	for _, c := range []struct{ stored, want string }{
		{`<a xmlns="urn:x">t</a>`, `<a xmlns="urn:x">t</a>`},
		{`<title xmlns="urn:x" xmlns:a0="http://www.w3.org/XML/1998/namespace" a0:lang="en">Hi</title>`, `<title xmlns="urn:x" xml:lang="en">Hi</title>`},
		{`<a xmlns="x" xmlns:a0="A" a0:0="00000" A="0"><0 xmlns="A"/></a>`, ""},
		{`<a xmlns="x"><0 xmlns="A"/></a>`, ""},
		{`not xml`, ""},
	} {
		got, ok := WellFormedElement(c.stored)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("WellFormedElement(%s) = %q, %v; want %q", c.stored, got, ok, c.want)
		}
		if ok {
			if err := xml.Unmarshal([]byte(got), new(Elem)); err != nil {
				t.Errorf("%s does not parse: %v", got, err)
			}
		}
	}
}

// TestMarshalMixedContent: character data between the children of a dead
// property stays in place (RFC 4918 §4.3.1).
func TestMarshalMixedContent(t *testing.T) {
	var e Elem
	if err := Decode([]byte(`<x:p xmlns:x="urn:x">Team <x:em>cal</x:em> &amp; more</x:p>`), &e); err != nil {
		t.Fatal(err)
	}
	got, want := e.Marshal(), `<p xmlns="urn:x">Team <em>cal</em> &amp; more</p>`
	if got != want {
		t.Fatalf("Marshal = %s, want %s", got, want)
	}
}

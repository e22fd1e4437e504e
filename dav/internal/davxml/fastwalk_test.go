package davxml

import (
	"encoding/xml"
	"reflect"
	"slices"
	"testing"
)

// fastWalkSeeds are bodies in the form fastWalk reads, as DAVx5,
// Thunderbird, Apple's clients and our tests write them.
var fastWalkSeeds = []string{
	`<?xml version='1.0' encoding='UTF-8' ?><CAL:calendar-multiget xmlns="DAV:" xmlns:CAL="urn:ietf:params:xml:ns:caldav"><prop><getcontenttype /><getetag /><CAL:calendar-data /></prop><href>/dav/home/alice/calendar/a.ics</href><href>/dav/home/alice/calendar/b%20c.ics</href></CAL:calendar-multiget>`,
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<C:calendar-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\n  <D:prop>\n    <D:getetag/>\n    <C:calendar-data><C:comp name=\"VCALENDAR\"><C:comp name=\"VEVENT\"/></C:comp></C:calendar-data>\n  </D:prop>\n  <D:href>/a.ics</D:href>\n</C:calendar-multiget>\n",
	`<A:calendar-multiget xmlns:A="urn:ietf:params:xml:ns:caldav"><B:prop xmlns:B="DAV:"><B:getetag/></B:prop><B:href xmlns:B="DAV:">/x</B:href><href xmlns="DAV:">/y</href><href>/z</href></A:calendar-multiget>`,
	`<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>`,
	`<a xmlns=""><b xmlns="DAV:"/></a>`,
	"  <a/>\n",
	// Runs of siblings written alike, which fastWalk reads without
	// resolving each: inside parents that bind other namespaces, after a
	// sibling that binds its own, and with empty and spaced tags.
	`<a xmlns="A"><p><h>x</h><h>y</h><h></h></p><p xmlns="B"><h>z</h><h>w</h></p><h>v</h><h>u</h></a>`,
	`<a xmlns:q="Q"><h>1</h><h xmlns="u">2</h><h>3</h><q:h>4</q:h><q:h>5</q:h><h >6</h ><h>7</h></a>`,
	`<a><p><h>1</h></p><p xmlns="B"><h>2</h><h>3</h></p></a>`,
}

// walkSeeds are corners fastWalk must leave to walk.
var walkSeeds = []string{
	`<a><b/></a><c/>`,
	`<h>0</h><h>0</h>`, // a second root written as the first
	`<a x="1" x="2"/>`,
	`<a xmlns:p="u"><p:b p:c="1"/></a>`,
	`<p:a/>`,
	`<a>x &amp; y</a>`,
	"<a>x\r\ny</a>",
	`<a><!-- c --></a>`,
	`<a>]]></a>`,
	`<a></b>`,
	`<a></a >x`,
	`<xml:a/>`,
	`<a b = "c"/>`,
	`<a b="c"d="e"/>`,
	`<?xml version="1.1"?><a/>`,
	`<?xml version="1.0" encoding="latin1"?><a/>`,
	` <?xml version="1.0"?><a/>`,
	"<a>caf\xc3\xa9</a>",
	`<a`,
	`<a>`,
	``,
}

// FuzzFastWalk checks fastWalk against walk: where fastWalk reads a body,
// walk accepts it with the same root and hands over the same tokens at
// the same depths (the XML declaration aside).
func FuzzFastWalk(f *testing.F) {
	for _, s := range slices.Concat(fastWalkSeeds, walkSeeds, reportSeeds) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if precheck(body) != nil {
			return
		}
		var fast recorder
		froot, ok := fastWalk(body, &fast)
		if !ok {
			return
		}
		var slow []seen
		root, err := walk(body, func(tok xml.Token, depth int) error {
			if _, ok := tok.(xml.ProcInst); !ok {
				slow = append(slow, seen{xml.CopyToken(tok), depth})
			}
			return nil
		})
		if err != nil || root != froot {
			t.Fatalf("fastWalk read %q with root %v; walk: %v, %v", body, froot, root, err)
		}
		if !reflect.DeepEqual([]seen(fast), slow) {
			t.Fatalf("fastWalk(%q) gave\n%#v\nwalk\n%#v", body, fast, slow)
		}
	})
}

type seen struct {
	Tok   xml.Token
	Depth int
}

// recorder is a tokenVisitor that keeps a copy of every token.
type recorder []seen

func (r *recorder) start(t xml.StartElement, depth int) error {
	*r = append(*r, seen{xml.CopyToken(t), depth})
	return nil
}

func (r *recorder) end(name xml.Name, depth int) error {
	*r = append(*r, seen{xml.EndElement{Name: name}, depth})
	return nil
}

func (r *recorder) text(t []byte, depth int) error {
	*r = append(*r, seen{xml.CopyToken(xml.CharData(t)), depth})
	return nil
}

// TestFastWalkReads checks that the bodies clients send take the fast
// path (a fallback to walk would be correct but slow), and that the
// corners in walkSeeds are left to walk.
func TestFastWalkReads(t *testing.T) {
	for _, s := range slices.Concat(fastWalkSeeds, reportSeeds[:2]) {
		if _, ok := fastWalk([]byte(s), new(recorder)); !ok {
			t.Errorf("fastWalk left %q to walk", s)
		}
	}
	for _, s := range walkSeeds {
		if _, ok := fastWalk([]byte(s), new(recorder)); ok {
			t.Errorf("fastWalk read %q", s)
		}
	}
}

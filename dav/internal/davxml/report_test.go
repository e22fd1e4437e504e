package davxml

import (
	"encoding/xml"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// reportSeeds are multiget bodies as clients send them, and the corners
// of what xml.Unmarshal does with them.
var reportSeeds = []string{
	`<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>/dav/home/alice/calendar/a.ics</D:href><D:href>/dav/home/alice/calendar/b.ics</D:href></C:calendar-multiget>`,
	`<?xml version="1.0" encoding="UTF-8"?><CAL:calendar-multiget xmlns="DAV:" xmlns:CAL="urn:ietf:params:xml:ns:caldav"><prop><getcontenttype/><getetag/><CAL:calendar-data/></prop><href>/x/1.ics</href></CAL:calendar-multiget>`,
	`<card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data><card:prop name="FN"/></card:address-data></d:prop><d:href> /c/1.vcf </d:href></card:addressbook-multiget>`,
	`<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:expand start="20260101T000000Z" end="20260201T000000Z"/></C:calendar-data></D:prop><D:href>/a<!-- c -->b<x>skipped</x>c<![CDATA[&d]]></D:href></C:calendar-multiget>`,
	`<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:allprop/><D:propname/><D:prop>text<D:getetag>mixed<D:x/>content</D:getetag></D:prop><D:prop><D:displayname xml:lang="en" a="1"/></D:prop><D:href/><other xmlns="urn:x"><D:href>/not/a/child</D:href></other></C:calendar-multiget>`,
	`<C:calendar-multiget xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:p="x" xmlns:x="y"><p:prop/><href xmlns="DAV:">&amp;&#x41;</href></C:calendar-multiget>`,
	`<D:sync-collection xmlns:D="DAV:"><D:sync-token/></D:sync-collection>`,
}

// FuzzParseReport checks that ParseReport accepts what Root accepts, with
// the same root, and decodes a multiget as xml.Unmarshal does.
func FuzzParseReport(f *testing.F) {
	for _, s := range reportSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want, werr := Root(body)
		root, mg, err := ParseReport(body)
		if (err == nil) != (werr == nil) || root != want {
			t.Fatalf("ParseReport = %v, %v; Root = %v, %v", root, err, want, werr)
		}
		if err != nil {
			return
		}
		isMultiget := root == C("calendar-multiget") || root == CR("addressbook-multiget")
		if (mg != nil) != isMultiget {
			t.Fatalf("root %v gave multiget %v", root, mg)
		}
		if mg == nil {
			return
		}
		var u Multiget
		if err := xml.Unmarshal(body, &u); err != nil {
			t.Fatalf("xml.Unmarshal: %v", err)
		}
		if !reflect.DeepEqual(*mg, u) {
			t.Fatalf("ParseReport gave\n%#v\nxml.Unmarshal\n%#v", *mg, u)
		}
	})
}

// TestParseReport: the hrefs and properties of a multiget come out of the
// single pass, and what Root refuses ParseReport refuses.
func TestParseReport(t *testing.T) {
	root, mg, err := ParseReport([]byte(reportSeeds[0]))
	if err != nil || root != C("calendar-multiget") || mg == nil {
		t.Fatalf("ParseReport = %v, %v, %v", root, mg, err)
	}
	if got := strings.Join(mg.Hrefs, " "); got != "/dav/home/alice/calendar/a.ics /dav/home/alice/calendar/b.ics" {
		t.Errorf("hrefs %q", got)
	}
	if mg.Prop == nil || !reflect.DeepEqual(Names(mg.Prop.Props), []xml.Name{PropGetETag, PropCalendarData}) {
		t.Errorf("prop %+v", mg.Prop)
	}
	for _, bad := range []string{
		`<!DOCTYPE x><C:calendar-multiget xmlns:C="urn:ietf:params:xml:ns:caldav"/>`,
		`<C:calendar-multiget xmlns:C="urn:ietf:params:xml:ns:caldav"><x:href/></C:calendar-multiget>`,
		`<C:calendar-multiget xmlns:C="urn:ietf:params:xml:ns:caldav"><href>`,
	} {
		if _, _, err := ParseReport([]byte(bad)); err == nil {
			t.Errorf("ParseReport(%q) accepted", bad)
		}
	}
}

// BenchmarkParseReport parses a calendar-multiget of 100 hrefs as DAVx5
// writes it (dav's BenchmarkMultiget1KB sends the same body).
func BenchmarkParseReport(b *testing.B) {
	var body strings.Builder
	body.WriteString(`<?xml version="1.0" encoding="UTF-8"?><CAL:calendar-multiget xmlns="DAV:" xmlns:CAL="urn:ietf:params:xml:ns:caldav"><prop><getcontenttype/><getetag/><CAL:calendar-data/></prop>`)
	for i := range 100 {
		fmt.Fprintf(&body, "<href>/dav/home/alice/calendar/ev%06d.ics</href>", i*7)
	}
	body.WriteString("</CAL:calendar-multiget>")
	in := []byte(body.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, mg, err := ParseReport(in); err != nil || len(mg.Hrefs) != 100 {
			b.Fatal(mg, err)
		}
	}
}

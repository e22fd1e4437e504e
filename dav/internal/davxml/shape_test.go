package davxml

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
)

// TestShapeCache checks that a response written through a Multistatus
// that has built and cached shapes before (more distinct ones than it
// keeps, in an order that makes it reuse, move and evict them) is the
// response a fresh Multistatus writes, for props that differ in name,
// status, error, value kind and value.
func TestShapeCache(t *testing.T) {
	etag := func(i int) PropValue { return PropValue{Name: PropGetETag, Str: fmt.Sprintf(`"e%d"`, i)} }
	kinds := [][]PropValue{
		{etag(1), {Name: PropGetContentType, Str: "text/calendar"}, {Name: PropResourceType}},
		{etag(2), {Name: PropGetContentType, Str: "text/calendar"}, {Name: PropResourceType}, {Name: xml.Name{Space: NSCalDAV, Local: "schedule-tag"}, Str: `"s"`}},
		{etag(3), {Name: xml.Name{Space: NSCalDAV, Local: "calendar-data"}, Text: []byte("BEGIN:VCALENDAR\r\nSUMMARY:a & b\r\n")}},
		{etag(4), {Name: xml.Name{Space: NSCalDAV, Local: "calendar-data"}, Text: []byte{}}},
		{{Name: D("displayname"), Status: 404}, etag(5), {Name: D("x"), Status: 403, Error: "<D:need-privileges/>"}, {Name: D("y"), Status: 404}},
		{{Name: xml.Name{Space: "urn:x", Local: "dead"}, Element: `<X:dead xmlns:X="urn:x">v</X:dead>`}, {Name: D("getetag"), Inner: "&quot;i&quot;"}},
		{},
		{{Name: D("getetag"), Status: 404}},
		{{Name: D("getctag"), Status: 404}},
		{{Name: xml.Name{Space: NSCalDAV, Local: "getctag"}, Status: 404}},
		{etag(8)},
		{{Name: D("getetag"), Inner: "&quot;i&quot;"}},
		{{Name: D("getetag")}},
		{{Name: D("getetag"), Element: "<D:getetag>&quot;el&quot;</D:getetag>"}},
		{{Name: D("getetag"), Text: []byte(`"t"`)}},
		{{Name: D("x"), Status: 403, Error: "<D:a/>"}},
		{{Name: D("x"), Status: 403, Error: "<D:b/>"}},
		{{Name: D("x"), Status: 403, Error: "<D:b/>"}, {Name: D("y"), Status: 403}},
		{{Name: D("x"), Status: 403, Error: "<D:b/>"}, {Name: D("y"), Status: 403, Error: "<D:b/>"}},
	}
	// Each kind after its neighbours, so that every pair of shapes that
	// differ in one thing meets in the cache.
	var order []int
	for i := range kinds {
		order = append(order, i, max(i-1, 0), i, max(i-2, 0), i)
	}
	var want strings.Builder
	for i, k := range order {
		want.WriteString(AppendResponse(fmt.Sprintf("/r/%d", i), kinds[k]))
	}
	got := render(func(m *Multistatus) {
		for i, k := range order {
			m.Response(fmt.Sprintf("/r/%d", i), kinds[k])
		}
	})
	got = strings.TrimSuffix(got[strings.Index(got, ">")+1:], "</D:multistatus>\n")
	got = got[strings.Index(got, ">")+1:]
	if got != want.String() {
		t.Fatalf("through cached shapes:\n%s\nwant\n%s", got, want.String())
	}
	if !strings.Contains(got, "<D:getetag>&quot;e1&quot;</D:getetag><D:getcontenttype>text/calendar</D:getcontenttype><D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status>") ||
		!strings.Contains(got, "<D:propstat><D:prop><D:displayname/><D:y/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>") ||
		!strings.Contains(got, "<D:status>HTTP/1.1 403 Forbidden</D:status><D:error><D:need-privileges/></D:error>") ||
		!strings.Contains(got, "<D:propstat><D:prop/><D:status>HTTP/1.1 200 OK</D:status></D:propstat>") {
		t.Fatalf("not grouped by status and error as RFC 4918 §14.22 wants:\n%s", got)
	}
}

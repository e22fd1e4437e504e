package dav

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzPrincipalReports sends fuzzed bodies of the RFC 3744 reports and of
// CalendarServer's principal search to the principal collection and to a
// calendar: none may panic or answer 5xx but the 507 that marks a
// truncated answer inside a 207, and none may name bob's home.
func FuzzPrincipalReports(f *testing.F) {
	for _, s := range []string{
		`<D:principal-property-search xmlns:D="DAV:" test="anyof"><D:property-search><D:prop><D:displayname/></D:prop><D:match match-type="starts-with">a</D:match></D:property-search><D:prop><D:displayname/></D:prop></D:principal-property-search>`,
		`<D:principal-search-property-set xmlns:D="DAV:"/>`,
		`<D:principal-match xmlns:D="DAV:"><D:principal-property><D:owner/></D:principal-property><D:prop><D:getetag/></D:prop></D:principal-match>`,
		`<D:principal-match xmlns:D="DAV:"><D:self/></D:principal-match>`,
		`<D:acl-principal-prop-set xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:acl-principal-prop-set>`,
		`<B:calendarserver-principal-property-search xmlns:B="http://calendarserver.org/ns/" context="user"><B:search-token>b</B:search-token><B:limit><B:nresults>1</B:nresults></B:limit></B:calendarserver-principal-property-search>`,
	} {
		f.Add([]byte(s), false)
	}
	h, _ := mustHandler(f, Options{})
	for _, u := range []string{"alice", "bob"} {
		if err := h.ensureHome(context.Background(), u, testMeta); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, onCalendar bool) {
		path := "/dav/principals/"
		if onCalendar {
			path = "/dav/home/alice/calendar/"
		}
		req := httptest.NewRequest("REPORT", path, strings.NewReader(string(body)))
		req.SetBasicAuth("alice", "alice")
		req.Header.Set("Depth", "0")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("REPORT answered %d: %s", rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "/dav/home/bob/calendar") {
			t.Fatalf("REPORT named bob's calendar: %s", rec.Body)
		}
	})
}

package dav

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/calgen"
	"github.com/almanac/almanac/internal/testscale"
)

// TestCalendarQueryFromIndex is the property test of the calendar-query
// answered from the time index (engine.ListOptions.FromIndex: asking
// DAV:getetag alone): over random calendars (single and recurring events,
// overrides, zoned, floating and all-day times, VTODOs) and random ranges
// (some open on one side), its answer, asked twice, equals that of the
// same query also asking DAV:getcontenttype without the object cache,
// which reads every candidate's record and evaluates what its envelope
// does not decide; and so again after random puts that move events or
// only change their ETag, and deletes. A third of the events are
// calgen.Series (zoned across DST, EXDATEs, RDATEs, overrides), whose
// spacing the first query of a window keeps (query.ObjectCache.Spacing)
// and later ones decide from.
func TestCalendarQueryFromIndex(t *testing.T) {
	h, db := mustHandler(t, Options{})
	ctx := context.Background()
	if err := h.ensureHome(ctx, "alice", testMeta); err != nil {
		t.Fatal(err)
	}
	const cal = "/dav/home/alice/calendar/"
	r := rand.New(rand.NewPCG(5, 6))
	n := testscale.N(t, 300)
	put := func(i int) {
		body := calgen.Object(r, fmt.Sprint("u", i))
		if r.IntN(3) == 0 {
			body = calgen.Series(r, fmt.Sprint("s", i))
		}
		if r.IntN(4) == 0 { // same times, another ETag
			body = []byte(strings.Replace(string(body), "DTSTAMP:20260101T000000Z", fmt.Sprintf("DTSTAMP:20260101T000000Z\r\nSUMMARY:%d", r.Int()), 1))
		}
		if _, err := db.PutObject(ctx, testMeta, cal, fmt.Sprintf("%d.ics", i), body, engine.PutOptions{}); err != nil {
			t.Fatalf("put %d: %v\n%s", i, err, body)
		}
	}
	for i := range n {
		put(i)
	}
	answer := func(start, end time.Time, props string) map[string]string {
		t.Helper()
		var tr strings.Builder
		tr.WriteString(`<c:time-range`)
		if !start.IsZero() {
			tr.WriteString(` start="` + start.Format("20060102T150405Z") + `"`)
		}
		if !end.IsZero() {
			tr.WriteString(` end="` + end.Format("20060102T150405Z") + `"`)
		}
		tr.WriteString(`/>`)
		body := `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>` + props +
			`</d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">` + tr.String() +
			`</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`
		req := httptest.NewRequest("REPORT", cal, strings.NewReader(body))
		req.SetBasicAuth("alice", "alice")
		req.Header.Set("Depth", "1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusMultiStatus {
			t.Fatalf("calendar-query: %d\n%s", rec.Code, rec.Body)
		}
		got := hrefETags(strings.ReplaceAll(rec.Body.String(), "&#34;", `"`))
		if c := strings.Count(rec.Body.String(), "<D:response>"); c != len(got) {
			t.Fatalf("%d responses, %d with an ETag:\n%s", c, len(got), rec.Body)
		}
		return got
	}
	matched := 0
	for round := range 3 {
		for range testscale.N(t, 40) {
			start, end := calgen.Range(r)
			if r.IntN(2) == 0 && !start.IsZero() {
				end = start.AddDate(0, 1, 0) // the apps' month
			}
			first := answer(start, end, `<d:getetag/>`)
			fromIndex := answer(start, end, `<d:getetag/>`)
			objects := h.objects
			h.objects = nil // no spacings
			full := answer(start, end, `<d:getetag/><d:getcontenttype/>`)
			h.objects = objects
			if fmt.Sprint(fromIndex) != fmt.Sprint(full) || fmt.Sprint(first) != fmt.Sprint(full) {
				t.Fatalf("round %d, [%s, %s): ETags only %d then %d matches, with the records %d\nETags only: %v\nrecords:    %v",
					round, start, end, len(first), len(fromIndex), len(full), fromIndex, full)
			}
			matched += len(full)
		}
		for range n / 3 {
			put(r.IntN(n))
		}
		for range n / 20 {
			if err := db.DeleteObject(ctx, testMeta, cal, fmt.Sprintf("%d.ics", r.IntN(n)), ""); err != nil && !errors.Is(err, engine.ErrNotFound) {
				t.Fatal(err)
			}
		}
	}
	if matched < 100 {
		t.Fatalf("only %d matches in all: the test exercises too little", matched)
	}
}

// hrefETags maps the href of each DAV:response in a multistatus body to
// the DAV:getetag that response holds; a response without one is left
// out. A scan of the body, not a regular expression: the lazy
// `<D:href>(.*?)<D:getetag>` match that stood here took a third of
// TestCalendarQueryFromIndex's CPU under -race (bench/micro-results.md,
// session 16's `make test` entry).
func hrefETags(body string) map[string]string {
	got := map[string]string{}
	for _, r := range strings.Split(body, "<D:response>")[1:] {
		href, ok := between(r, "<D:href>", "</D:href>")
		if !ok {
			continue
		}
		if etag, ok := between(r, "<D:getetag>", "</D:getetag>"); ok {
			got[href] = etag
		}
	}
	return got
}

// between returns the text of s between the first start and the end
// after it.
func between(s, start, end string) (string, bool) {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return "", false
	}
	in, _, ok := strings.Cut(rest, end)
	return in, ok
}

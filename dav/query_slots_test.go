package dav

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/query"
)

// serveAs sends one request as alice to h with ctx and returns the recorded
// response.
func serveAs(h http.Handler, ctx context.Context, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body)).WithContext(ctx)
	req.SetBasicAuth("alice", "alice")
	if method == "PUT" {
		req.Header.Set("Content-Type", "text/calendar")
	} else {
		req.Header.Set("Depth", "1")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func mustPutEvent(t *testing.T, h http.Handler, name, rrule string) {
	t.Helper()
	body := crlf(fmt.Sprintf("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nBEGIN:VEVENT\nUID:%s\nDTSTAMP:20260101T000000Z\n"+
		"DTSTART:20260105T100000Z\nDURATION:PT1H\nSUMMARY:%s\n%sEND:VEVENT\nEND:VCALENDAR\n", name, strings.Repeat("x", 200), rrule))
	if rec := serveAs(h, context.Background(), "PUT", "/dav/home/alice/calendar/"+name+".ics", body); rec.Code != http.StatusCreated {
		t.Fatalf("PUT %s: %d %s", name, rec.Code, rec.Body)
	}
}

const expandQuery = `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data><C:expand start="20260101T000000Z" end="20260201T000000Z"/></C:calendar-data></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="20260101T000000Z" end="20260201T000000Z"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>`

const freeBusyQuery = `<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">
  <C:time-range start="20260101T000000Z" end="20260201T000000Z"/>
</C:free-busy-query>`

// With every query slot taken, a calendar-query or free-busy-query waits
// Limits.QueueWait and then gets 503 with a Retry-After of that wait in
// whole seconds, at least 1; once a slot is free it is answered.
func TestQuerySlots(t *testing.T) {
	for _, tc := range []struct {
		wait  time.Duration
		retry string
	}{{20 * time.Millisecond, "1"}, {1100 * time.Millisecond, "2"}} {
		h, _ := mustHandler(t, Options{QueryLimits: query.Limits{MaxConcurrent: 1, QueueWait: tc.wait}})
		mustPutEvent(t, h, "a", "RRULE:FREQ=DAILY;COUNT=3\n")
		h.querySlots <- struct{}{} // a query in progress
		for _, body := range []string{expandQuery, freeBusyQuery} {
			rec := serveAs(h, context.Background(), "REPORT", "/dav/home/alice/calendar/", body)
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != tc.retry {
				t.Errorf("all slots taken, queue wait %s: %d, Retry-After %q, want 503 with Retry-After %s", tc.wait, rec.Code, rec.Header().Get("Retry-After"), tc.retry)
			}
		}
	}
	h, _ := mustHandler(t, Options{QueryLimits: query.Limits{MaxConcurrent: 1, QueueWait: 20 * time.Millisecond}})
	mustPutEvent(t, h, "a", "RRULE:FREQ=DAILY;COUNT=3\n")
	for _, body := range []string{expandQuery, freeBusyQuery} {
		if rec := serveAs(h, context.Background(), "REPORT", "/dav/home/alice/calendar/", body); rec.Code >= 300 {
			t.Errorf("free slot: %d %s", rec.Code, rec.Body)
		}
	}
	if len(h.querySlots) != 0 {
		t.Errorf("%d slots still taken after the queries", len(h.querySlots))
	}
}

var getetagRE = regexp.MustCompile(`<D:getetag>[^<]*</D:getetag>`)

// Past Limits.MaxBuffer a calendar-query holds only the records of its
// matches and reads and shapes them again as it writes them: the answer
// is the same as with everything held.
func TestQueryBuffer(t *testing.T) {
	var answers []string
	for _, buf := range []int64{0, 1, 1500} {
		h, _ := mustHandler(t, Options{QueryLimits: query.Limits{MaxBuffer: buf}})
		for i := 0; i < 5; i++ {
			mustPutEvent(t, h, fmt.Sprint("e", i), "RRULE:FREQ=WEEKLY;COUNT=3\n")
		}
		for _, body := range []string{expandQuery, strings.Replace(expandQuery, "<C:calendar-data><C:expand start=\"20260101T000000Z\" end=\"20260201T000000Z\"/></C:calendar-data>", "<C:calendar-data/>", 1)} {
			rec := serveAs(h, context.Background(), "REPORT", "/dav/home/alice/calendar/", body)
			if rec.Code != http.StatusMultiStatus {
				t.Fatalf("buffer %d: %d %s", buf, rec.Code, rec.Body)
			}
			// ETags are opaque and differ between databases.
			answers = append(answers, getetagRE.ReplaceAllString(rec.Body.String(), "ETAG"))
		}
	}
	for i := 2; i < len(answers); i++ {
		if answers[i] != answers[i%2] {
			t.Errorf("answer %d differs from the fully buffered one:\n%s\nwant\n%s", i, answers[i], answers[i%2])
		}
	}
	if !strings.Contains(answers[0], "RECURRENCE-ID:20260112T100000Z") {
		t.Errorf("expanded answer lacks an instance:\n%s", answers[0])
	}
}

// A client that goes away stops the work: a query over an object whose
// expansion would run for seconds (a SECONDLY rule over a month, 2.7
// million steps, with the budgets lifted) returns soon after its
// request's context is canceled, with an error status instead of its
// 207, and gives its slot back.
func TestQueryCanceled(t *testing.T) {
	h, _ := mustHandler(t, Options{QueryLimits: query.Limits{MaxConcurrent: 1, MaxInstances: 1 << 30, MaxIterations: 1 << 30}})
	mustPutEvent(t, h, "busy", "RRULE:FREQ=SECONDLY;BYSECOND=0,30\n")
	for _, body := range []string{expandQuery, freeBusyQuery} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() { done <- serveAs(h, ctx, "REPORT", "/dav/home/alice/calendar/", body) }()
		select {
		case rec := <-done:
			if rec.Code < 400 {
				t.Errorf("canceled query answered %d", rec.Code)
			}
		case <-time.After(time.Minute):
			t.Fatal("a canceled query did not return within a minute")
		}
		if len(h.querySlots) != 0 {
			t.Errorf("the canceled query kept its slot")
		}
	}
}

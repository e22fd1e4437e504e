package dav

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/bench"
	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
)

// BenchmarkQueryMonth10k is issue 20's query figure through the handler:
// the bench tool's one-month calendar-query (ETags only, then expanded)
// over its own 10,000 events (one in ten recurring weekly, with EXDATEs,
// overrides and endless series; all in Europe/Berlin with a VTIMEZONE),
// answered from the time index. It checks the answer's size against the
// bench tool's expected count.
func BenchmarkQueryMonth10k(b *testing.B) {
	const n = 10000
	h, db := mustHandler(b, Options{})
	ctx := context.Background()
	if err := h.ensureHome(ctx, "alice", testMeta); err != nil {
		b.Fatal(err)
	}
	const cal = "/dav/home/alice/calendar/"
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for w := range errs {
		wg.Go(func() {
			for i := w; i < n && errs[w] == nil; i += len(errs) {
				ev := bench.Event(i, 0)
				_, errs[w] = db.PutObject(ctx, testMeta, cal, ev.Name, ev.Body, engine.PutOptions{})
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	const stamp = "20060102T150405Z"
	// month is the query of [from, to), ETags only or expanded.
	month := func(from, to time.Time, expand bool) *http.Request {
		f, t := from.Format(stamp), to.Format(stamp)
		prop := `<d:getetag/>`
		if expand {
			prop = `<d:getetag/><c:calendar-data><c:expand start="` + f + `" end="` + t + `"/></c:calendar-data>`
		}
		body := `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>` + prop +
			`</d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="` + f + `" end="` + t +
			`"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`
		r := httptest.NewRequest("REPORT", cal, strings.NewReader(body))
		r.SetBasicAuth("alice", "alice")
		r.Header.Set("Depth", "1")
		return r
	}
	want := bench.ExpectedQuery(n).Objects
	for _, expand := range []bool{false, true} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, month(bench.QueryWindow.Start, bench.QueryWindow.End, expand))
		if got := strings.Count(rec.Body.String(), "<D:response>"); rec.Code != http.StatusMultiStatus || got != want {
			b.Fatalf("calendar-query: %d with %d responses, want 207 with %d", rec.Code, got, want)
		}
		b.Run(fmt.Sprint("expand=", expand), func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				serve(b, h, month(bench.QueryWindow.Start, bench.QueryWindow.End, expand), http.StatusMultiStatus)
			}
			b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
	// The month asked first after a start: the object cache is empty, so
	// every candidate series is read, parsed and evaluated (and, since
	// session 15, its spacing read for the queries after it).
	b.Run("expand=false/cold", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := cpuTime(b)
		for b.Loop() {
			h.objects = query.NewObjectCache(query.DefaultObjectCache)
			serve(b, h, month(bench.QueryWindow.Start, bench.QueryWindow.End, false), http.StatusMultiStatus)
		}
		b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
	// A month that moves by a week each query (cycling through a year):
	// what a client's first query of a window costs, which the series'
	// remembered expansion (recur.Prepared, one window each) does not
	// answer, while expand=false repeats one window; the series' spacings
	// kept by the queries before decide most of them.
	b.Run("expand=false/window=moving", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := cpuTime(b)
		i := 0
		for b.Loop() {
			shift := time.Duration(i%52) * 7 * 24 * time.Hour
			i++
			serve(b, h, month(bench.QueryWindow.Start.Add(shift), bench.QueryWindow.End.Add(shift), false), http.StatusMultiStatus)
		}
		b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}

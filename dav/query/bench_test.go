package query_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
)

// benchStores caches one populated store per size across benchmarks.
var benchStores sync.Map // int -> *engine.DB

// benchEvent returns object i of the benchmark calendar: one-hour events
// spread over two years, every tenth a weekly meeting in Europe/Berlin
// with an EXDATE and a moved occurrence (half of them endless).
func benchEvent(i int) []byte {
	day := time.Date(2025, 1, 1, 8+i%10, 0, 0, 0, time.UTC).AddDate(0, 0, (i*7919)%730)
	const f = "20060102T150405"
	if i%10 != 0 {
		return fmt.Appendf(nil, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:e%d\r\nDTSTAMP:20250101T000000Z\r\n"+
			"DTSTART:%sZ\r\nDTEND:%sZ\r\nSUMMARY:Event %d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", i, day.Format(f), day.Add(time.Hour).Format(f), i)
	}
	count := ""
	if i%20 == 0 {
		count = ";COUNT=52"
	}
	rid := day.AddDate(0, 0, 14)
	return fmt.Appendf(nil, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:r%d\r\nDTSTAMP:20250101T000000Z\r\n"+
		"DTSTART;TZID=Europe/Berlin:%s\r\nDTEND;TZID=Europe/Berlin:%s\r\nRRULE:FREQ=WEEKLY%s\r\nEXDATE;TZID=Europe/Berlin:%s\r\nSUMMARY:Weekly %d\r\nEND:VEVENT\r\n"+
		"BEGIN:VEVENT\r\nUID:r%d\r\nDTSTAMP:20250101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:%s\r\nDTSTART;TZID=Europe/Berlin:%s\r\nDTEND;TZID=Europe/Berlin:%s\r\n"+
		"SUMMARY:Weekly %d (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		i, day.Format(f), day.Add(time.Hour).Format(f), count, day.AddDate(0, 0, 7).Format(f), i,
		i, rid.Format(f), rid.Add(3*time.Hour).Format(f), rid.Add(4*time.Hour).Format(f), i)
}

const benchPath = "/dav/home/bench/calendar/"

func benchStore(b *testing.B, n int) *engine.DB {
	if db, ok := benchStores.Load(n); ok {
		return db.(*engine.DB)
	}
	db, err := engine.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, m := context.Background(), engine.Meta{Actor: "bench"}
	if _, err := db.CreateCollection(ctx, m, engine.CollectionSpec{Path: "/dav/home/bench/", Kind: engine.KindHome, Owner: "bench"}); err != nil {
		b.Fatal(err)
	}
	if _, err := db.CreateCollection(ctx, m, engine.CollectionSpec{Path: benchPath, Kind: engine.KindCalendar, Owner: "bench"}); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				if _, err := db.PutObject(ctx, m, benchPath, fmt.Sprintf("%d.ics", i), benchEvent(i), engine.PutOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	benchStores.Store(n, db)
	return db
}

// BenchmarkMonthQuery is a calendar-query for one month of events over
// 1k, 10k and 100k objects, through the engine's envelope skip, with and
// without <C:expand>.
func BenchmarkMonthQuery(b *testing.B) {
	const filter = `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
		<C:time-range start="20260301T000000Z" end="20260401T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`
	const head = `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">`
	plain, err := query.ParseCalendarQuery([]byte(head + `<D:prop><C:calendar-data/></D:prop>` + filter))
	if err != nil {
		b.Fatal(err)
	}
	expand, err := query.ParseCalendarQuery([]byte(head + `<D:prop><C:calendar-data><C:expand start="20260301T000000Z" end="20260401T000000Z"/></C:calendar-data></D:prop>` + filter))
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1000, 10000, 100000} {
		for _, tc := range []struct {
			name string
			q    *query.CalendarQuery
		}{{"plain", plain}, {"expand", expand}} {
			b.Run(fmt.Sprintf("n=%d/%s", n, tc.name), func(b *testing.B) {
				if n == 100000 && testing.Short() {
					b.Skip("100k objects take a while to load; run without -short")
				}
				db := benchStore(b, n)
				start, end, _ := tc.q.Range()
				b.ResetTimer()
				matched := 0
				for b.Loop() {
					matched = runMonth(b, db, tc.q, start, end)
				}
				b.ReportMetric(float64(matched), "matches")
			})
		}
	}
}

func runMonth(b *testing.B, db *engine.DB, q *query.CalendarQuery, start, end time.Time) int {
	v, err := db.View()
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	matched := 0
	for o, err := range v.Objects(benchPath, engine.ListOptions{Bodies: true, Start: start, End: end}) {
		if err != nil {
			b.Fatal(err)
		}
		obj, err := query.ParseCalendarObject(o.Body)
		if err != nil {
			b.Fatal(err)
		}
		ok, err := q.Match(context.Background(), obj, nil, query.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if !ok {
			continue
		}
		matched++
		if _, err := q.Data.Render(context.Background(), obj, nil, query.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	return matched
}

// BenchmarkParseCalendarObject measures what parsing one stored object
// costs a calendar-query: a plain event and a recurring one with an
// override, and a long folded description.
func BenchmarkParseCalendarObject(b *testing.B) {
	long := []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:l\r\nDTSTAMP:20250101T000000Z\r\n" +
		"DTSTART;TZID=Europe/Berlin:20250101T100000\r\nSUMMARY;LANGUAGE=en:Long\r\nDESCRIPTION:" +
		strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n ", 40) +
		"end\r\nATTENDEE;CN=\"Doe, Jane\";PARTSTAT=ACCEPTED:mailto:jane@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	for _, tc := range []struct {
		name string
		body []byte
	}{{"plain", benchEvent(1)}, {"recurring", benchEvent(10)}, {"folded", long}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.body)))
			for b.Loop() {
				if _, err := query.ParseCalendarObject(tc.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

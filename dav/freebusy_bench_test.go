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

	"github.com/almanac/almanac/engine"
)

// BenchmarkFreeBusy20x10k is issue 18's free-busy figure: one POST of a
// VFREEBUSY REQUEST for 20 users over a month (January 2027), each user
// holding 10,000 events spread over four years from 2025 (about 7 a day;
// one in 50 a weekly series of a year), so that a month holds some 210
// of each user's single events and every series that reaches it. The
// setup (200,000 puts) takes a while; the figure is the lookup alone.
func BenchmarkFreeBusy20x10k(b *testing.B) {
	const users, perUser = 20, 10000
	h, db := mustHandler(b, Options{})
	names := []string{"alice"}
	for i := range users {
		names = append(names, fmt.Sprintf("u%02d", i))
	}
	mustSchedulingUsers(b, h, db, names...)
	start := time.Date(2025, 1, 1, 8, 0, 0, 0, time.UTC)
	span := 4 * 365 * 24 * time.Hour
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cal := fmt.Sprintf("/dav/home/u%02d/calendar/", u)
			for i := range perUser {
				at := start.Add(span / perUser * time.Duration(i)).Truncate(15 * time.Minute)
				extra := ""
				if i%50 == 0 {
					extra = "RRULE:FREQ=WEEKLY;COUNT=52\r\n"
				}
				body := fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:e%d\r\nDTSTAMP:20250101T000000Z\r\n"+
					"DTSTART:%s\r\nDTEND:%s\r\n%sSUMMARY:Busy %d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
					i, at.Format("20060102T150405Z"), at.Add(45*time.Minute).Format("20060102T150405Z"), extra, i)
				if _, err := db.PutObject(context.Background(), testMeta, cal, fmt.Sprintf("e%d.ics", i), []byte(body), engine.PutOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	var req strings.Builder
	req.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb1\r\nDTSTAMP:20261201T000000Z\r\n" +
		"DTSTART:20270101T000000Z\r\nDTEND:20270201T000000Z\r\nORGANIZER:mailto:alice@example.org\r\n")
	for i := range users {
		fmt.Fprintf(&req, "ATTENDEE:mailto:u%02d@example.org\r\n", i)
	}
	req.WriteString("END:VFREEBUSY\r\nEND:VCALENDAR\r\n")
	post := func() *http.Request {
		r := httptest.NewRequest("POST", "/dav/home/alice/outbox/", strings.NewReader(req.String()))
		r.SetBasicAuth("alice", "alice")
		r.Header.Set("Content-Type", "text/calendar")
		return r
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, post())
	if rec.Code != http.StatusOK || strings.Count(rec.Body.String(), "2.0;Success") != users || !strings.Contains(rec.Body.String(), "FREEBUSY;FBTYPE=BUSY:2027") {
		b.Fatalf("free-busy: %d %.2000s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for b.Loop() {
		serve(b, h, post(), http.StatusOK)
	}
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

package dav

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	randv2 "math/rand/v2"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/calgen"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestEnvelopeDecides: whenever the envelope, or the spacing an earlier
// query kept, decides that an object matches a calendar-query, the full
// evaluation agrees. Random events cover UTC, zoned, floating and all-day
// times, recurrence with EXDATE and overrides; a third are calgen.Series
// (zoned across DST, EXDATEs, RDATEs, overrides that move or cancel).
func TestEnvelopeDecides(t *testing.T) {
	db, err := engine.Open("db", &engine.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, m := context.Background(), engine.Meta{Actor: "t"}
	if _, err := db.CreateCollection(ctx, m, engine.CollectionSpec{Path: "/h/", Kind: engine.KindHome}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateCollection(ctx, m, engine.CollectionSpec{Path: "/h/c/", Kind: engine.KindCalendar}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	series := randv2.New(randv2.NewPCG(7, 20))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 400; i++ {
		body := randomEvent(rng, fmt.Sprint("u", i), base.Add(time.Duration(rng.Intn(90*24))*time.Hour))
		if i%3 == 0 {
			body = calgen.Series(series, fmt.Sprint("s", i))
		}
		if _, err := db.PutObject(ctx, m, "/h/c/", fmt.Sprintf("%d.ics", i), body, engine.PutOptions{}); err != nil {
			t.Fatalf("event %d: %v\n%s", i, err, body)
		}
	}
	v, _ := db.View()
	defer v.Close()
	h := &Handler{objects: query.NewObjectCache(query.DefaultObjectCache)}
	envelope := &Handler{} // no object cache: the envelope alone
	decided, spaced := 0, 0
	for r := 0; r < 40; r++ {
		start := base.Add(time.Duration(rng.Intn(80*24)) * time.Hour)
		end := start.Add(time.Duration(1+rng.Intn(31*24)) * time.Hour)
		q, err := query.ParseCalendarQuery([]byte(fmt.Sprintf(`<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="%s" end="%s"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
			start.Format("20060102T150405Z"), end.Format("20060102T150405Z"))))
		if err != nil {
			t.Fatal(err)
		}
		for o, err := range v.Objects("/h/c/", engine.ListOptions{Bodies: true}) {
			if err != nil {
				t.Fatal(err)
			}
			obj, err := query.ParseCalendarObject(o.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !h.envelopeDecides(q, "/h/c/", o) {
				h.keepSpacing(context.Background(), q, "/h/c/", o, obj)
				continue
			}
			decided++
			if !envelope.envelopeDecides(q, "/h/c/", o) {
				spaced++
			}
			for _, floating := range []*time.Location{time.UTC, time.FixedZone("", -12*3600), time.FixedZone("", 14*3600)} {
				if ok, err := q.Match(context.Background(), obj, floating, query.Limits{}); err != nil || !ok {
					t.Fatalf("envelope says %s matches [%s, %s) but evaluation says %v, %v (floating %v)\n%s",
						o.Name, start, end, ok, err, floating, o.Body)
				}
			}
		}
	}
	if decided < 100 || spaced < 100 {
		t.Fatalf("the envelope decided %d times, %d of them by a spacing: the test exercises too little", decided, spaced)
	}
}

// randomEvent returns a VEVENT near at: UTC, zoned, floating or all-day,
// sometimes recurring with EXDATEs and an override.
func randomEvent(rng *rand.Rand, uid string, at time.Time) []byte {
	var b bytes.Buffer
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n")
	dur := time.Duration(rng.Intn(5)) * time.Hour
	start, end := "", ""
	switch rng.Intn(4) {
	case 0:
		start, end = "DTSTART:"+at.Format("20060102T150405Z"), "DTEND:"+at.Add(dur).Format("20060102T150405Z")
	case 1:
		start = "DTSTART;TZID=Europe/Berlin:" + at.Format("20060102T150405")
		end = "DTEND;TZID=Europe/Berlin:" + at.Add(dur).Format("20060102T150405")
	case 2:
		start, end = "DTSTART:"+at.Format("20060102T150405"), "DTEND:"+at.Add(dur).Format("20060102T150405")
	default:
		start = "DTSTART;VALUE=DATE:" + at.Format("20060102")
		end = "DTEND;VALUE=DATE:" + at.AddDate(0, 0, 1+rng.Intn(3)).Format("20060102")
	}
	fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n%s\r\n%s\r\n", uid, start, end)
	recurring := rng.Intn(3) == 0
	if recurring {
		fmt.Fprintf(&b, "RRULE:FREQ=DAILY;COUNT=%d\r\n", 1+rng.Intn(4))
		if rng.Intn(2) == 0 && len(start) > 8 {
			exd := "EXDATE" + start[len("DTSTART"):]
			b.WriteString(exd + "\r\n") // excludes the first instance
		}
	}
	b.WriteString("SUMMARY:x\r\nEND:VEVENT\r\n")
	if recurring && rng.Intn(2) == 0 {
		rid := "RECURRENCE-ID" + start[len("DTSTART"):]
		fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n%s\r\n%s\r\n%s\r\nSUMMARY:moved\r\nEND:VEVENT\r\n",
			uid, rid, start, end)
	}
	b.WriteString("END:VCALENDAR\r\n")
	return b.Bytes()
}

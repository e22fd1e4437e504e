package query_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/engine/contentline"
)

// TestQueryReadsWhatPutAccepts: an object at the limits (exactly
// contentline.DefaultMaxLines content lines) is stored and parses for
// queries, and one line more is refused at PUT. Issue 13: an object over
// 100k lines was stored and then silently left out of every query.
func TestQueryReadsWhatPutAccepts(t *testing.T) {
	db, err := engine.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, m := context.Background(), engine.Meta{Actor: "t"}
	if _, err := db.CreateCollection(ctx, m, engine.CollectionSpec{Path: "/dav/home/t/", Kind: engine.KindHome, Owner: "t"}); err != nil {
		t.Fatal(err)
	}
	const cal = "/dav/home/t/cal/"
	if _, err := db.CreateCollection(ctx, m, engine.CollectionSpec{Path: cal, Kind: engine.KindCalendar, Owner: "t"}); err != nil {
		t.Fatal(err)
	}
	body := func(lines int) []byte {
		var b strings.Builder
		b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n")
		left := lines - 4
		for i := 0; left > 0; i++ {
			b.WriteString("BEGIN:VEVENT\r\nUID:big\r\nDTSTART:20260105T100000Z\r\n")
			left -= 4
			if i == 0 {
				b.WriteString("RRULE:FREQ=DAILY;COUNT=30\r\n")
			} else {
				fmt.Fprintf(&b, "RECURRENCE-ID:202601%02dT100000Z\r\n", 5+i)
			}
			left--
			n := min(left, contentline.DefaultMaxProperties-4)
			b.WriteString(strings.Repeat("X-PAD:x\r\n", n))
			left -= n
			b.WriteString("END:VEVENT\r\n")
		}
		b.WriteString("END:VCALENDAR\r\n")
		return []byte(b.String())
	}
	atLimit := body(contentline.DefaultMaxLines)
	if n := strings.Count(string(atLimit), "\n"); n != contentline.DefaultMaxLines {
		t.Fatalf("test body has %d lines", n)
	}
	if _, err := db.PutObject(ctx, m, cal, "big.ics", atLimit, engine.PutOptions{}); err != nil {
		t.Fatalf("PUT at the limit: %v", err)
	}
	if _, err := query.ParseCalendarObject(atLimit); err != nil {
		t.Fatalf("stored, but the query cannot read it: %v", err)
	}
	if _, err := db.PutObject(ctx, m, cal, "bigger.ics", body(contentline.DefaultMaxLines+1), engine.PutOptions{}); err == nil {
		t.Fatal("PUT over the limit accepted")
	}
}

package query

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/almanac/almanac/bench"
	"github.com/almanac/almanac/engine/recur"
)

// TestSpacingCacheBound: the spacings an ObjectCache keeps stay within
// their 1/16 of its budget, whatever their number, a kept one is found
// under its version only (another ETag is another body), and a nil cache
// keeps none.
func TestSpacingCacheBound(t *testing.T) {
	const budget = 256 << 10
	c := NewObjectCache(budget)
	s := recur.Spacing{First: 1, Last: 2, MaxGap: 1}
	for i := range 10000 {
		c.KeepSpacing("/dav/home/alice/calendar/", fmt.Sprintf("event-%d.ics", i), fmt.Sprintf(`"etag-%d"`, i), s)
		if used, _ := c.Size(); used > budget/spacingShare {
			t.Fatalf("after %d spacings: %d bytes, share %d", i+1, used, budget/spacingShare)
		}
	}
	kept := 0
	for i := range 10000 {
		if got, ok := c.Spacing("/dav/home/alice/calendar/", fmt.Sprintf("event-%d.ics", i), fmt.Sprintf(`"etag-%d"`, i)); ok {
			if got != s {
				t.Fatalf("spacing %d: %+v", i, got)
			}
			kept++
		}
		if _, ok := c.Spacing("/dav/home/alice/calendar/", fmt.Sprintf("event-%d.ics", i), `"other"`); ok {
			t.Fatalf("spacing %d found under another ETag", i)
		}
	}
	if kept < 50 || kept == 10000 {
		t.Fatalf("%d of 10000 spacings kept in a %d-byte share", kept, budget/spacingShare)
	}
	var none *ObjectCache
	none.KeepSpacing("/c/", "a", "e", s)
	if _, ok := none.Spacing("/c/", "a", "e"); ok {
		t.Fatal("a nil cache kept a spacing")
	}
}

// TestSeriesSpacingOfObject: the bench tool's weekly series (zoned, with
// EXDATEs and overrides) get a spacing over the years around the window,
// whose gap is a whole number of weeks (an EXDATE or a moved instance
// widens it), and its single events get none and are not expanded.
func TestSeriesSpacingOfObject(t *testing.T) {
	ctx := context.Background()
	series, single := 0, 0
	for i := range 200 {
		obj, err := ParseCalendarObject(bench.Event(i, 0).Body)
		if err != nil {
			t.Fatal(err)
		}
		s, recurs := obj.SeriesSpacing(ctx, bench.QueryWindow.Start, Limits{})
		if !recurs {
			if !s.IsZero() {
				t.Fatalf("event %d: spacing %+v of a single event", i, s)
			}
			single++
			continue
		}
		series++
		if s.IsZero() || s.MaxGap < 7*24*3600-3600 || s.Last <= s.First {
			t.Fatalf("event %d: spacing %+v\n%s", i, s, bench.Event(i, 0).Body)
		}
		if !s.Hits(bench.QueryWindow.Start, bench.QueryWindow.End) && time.Unix(s.First, 0).Before(bench.QueryWindow.Start) && time.Unix(s.Last, 0).After(bench.QueryWindow.End) {
			t.Fatalf("event %d: spacing %+v spans the month but does not decide it", i, s)
		}
	}
	if series == 0 || single == 0 {
		t.Fatalf("%d series, %d single events", series, single)
	}
}

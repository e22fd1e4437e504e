package recur

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/almanac/almanac/internal/calgen"
)

// TestSeriesSpacing is SeriesSpacing's property test: over random
// recurring events (calgen.Series: zoned across DST, EXDATEs, RDATEs,
// overrides, floating ones that get none) and calgen's other shapes, the
// Spacing equals the one read off a single expansion of the whole span
// with no limits short of it, and every window it Hits has an instance
// overlapping it in that expansion, whatever the floating location.
func TestSeriesSpacing(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 17))
	from, to := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2029, 3, 10, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	some, hits := 0, 0
	for i := range 400 {
		body := calgen.Series(r, fmt.Sprint("s", i))
		if i%4 == 3 {
			body = calgen.Object(r, fmt.Sprint("o", i))
		}
		cal := mustParse(t, string(body))
		var got Spacing
		ok := false
		if p, err := Prepare(ctx, cal, "VEVENT", time.UTC, Options{}); err == nil {
			got, ok = SeriesSpacing(ctx, p, from, to)
		}
		floating := []*time.Location{time.UTC, LookupTZID("Europe/Berlin"), time.FixedZone("far", 13*3600)}[r.IntN(3)]
		all, err := Expand(ctx, cal, "VEVENT", from, to, Options{Floating: floating, MaxInstances: 1 << 20})
		if err != nil {
			if ok {
				t.Fatalf("%d: spacing %+v of a calendar that does not expand: %v\n%s", i, got, err, body)
			}
			continue
		}
		// the Spacing read off the expansion: every start in [from, to)
		var want Spacing
		n := 0
		for _, in := range all {
			u := in.Start.Unix()
			if in.Start.Before(from) || n > 0 && u == want.Last {
				continue
			}
			if n == 0 {
				want.First = u
			} else {
				want.MaxGap = max(want.MaxGap, u-want.Last)
			}
			want.Last = u
			n++
		}
		if !ok {
			if p, err := Prepare(ctx, cal, "VEVENT", time.UTC, Options{}); n >= 2 && n <= SpacingInstances/4 && err == nil && !p.Floating {
				t.Fatalf("%d: no spacing for %d instances\n%s", i, n, body)
			}
			continue
		}
		some++
		if n > SpacingInstances {
			// cut at a year: a prefix of the expansion's starts
			if got.First != want.First || got.Last > want.Last || got.MaxGap > want.MaxGap {
				t.Fatalf("%d: spacing %+v, the expansion's prefix cannot give it (whole: %+v)\n%s", i, got, want, body)
			}
		} else if got != want {
			t.Fatalf("%d: spacing %+v, the expansion gives %+v\n%s", i, got, want, body)
		}
		for range 50 {
			start, end := calgen.Range(r)
			if r.IntN(2) == 0 && !start.IsZero() {
				end = start.AddDate(0, 1, 0)
			}
			if !got.Hits(start, end) {
				continue
			}
			hits++
			if !overlapsAny(all, start, end) {
				t.Fatalf("%d: spacing %+v hits [%s, %s), no instance overlaps it\n%s", i, got, fmtUTC(start), fmtUTC(end), body)
			}
		}
	}
	if some < 100 || hits < 1000 {
		t.Fatalf("%d spacings, %d hits: the test exercises too little", some, hits)
	}
}

// overlapsAny reports whether an instance of all overlaps [start, end).
func overlapsAny(all []Instance, start, end time.Time) bool {
	for _, in := range all {
		if in.Overlaps(start, end) {
			return true
		}
	}
	return false
}

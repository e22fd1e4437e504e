package query_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/calgen"
	"github.com/almanac/almanac/internal/testscale"
)

// matchNames evaluates q on the objects a listing of path with opts
// yields (parsed once, in objs) and returns the names that match.
func matchNames(t *testing.T, v *engine.View, path string, objs map[string]*query.CalendarObject, q *query.CalendarQuery, floating *time.Location, opts engine.ListOptions) []string {
	t.Helper()
	var out []string
	for o, err := range v.Objects(path, opts) {
		if err != nil {
			t.Fatal(err)
		}
		ok, err := q.Match(context.Background(), objs[o.Name], floating, query.Limits{})
		if err != nil {
			t.Fatalf("match %s: %v", o.Name, err)
		}
		if ok {
			out = append(out, o.Name)
		}
	}
	return out
}

// TestTimeIndexQueries: a calendar-query's answer through the engine's
// time index (a listing of the query's range) equals the answer of
// evaluating the query on every object of the collection, for random
// objects (recurring with overrides, all-day, floating, zoned, VTODOs,
// endless, unbounded) and random ranges, for VEVENT and VTODO filters,
// floating times read in UTC and at both extreme offsets.
func TestTimeIndexQueries(t *testing.T) {
	db, err := engine.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, m := context.Background(), engine.Meta{Actor: "test"}
	const path = "/dav/home/t/calendar/"
	for _, spec := range []engine.CollectionSpec{
		{Path: "/dav/home/t/", Kind: engine.KindHome, Owner: "t"},
		{Path: path, Kind: engine.KindCalendar, Owner: "t", Props: engine.Props{Components: []string{"VEVENT", "VTODO"}}},
	} {
		if _, err := db.CreateCollection(ctx, m, spec); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	bodies := make([][]byte, testscale.N(t, 300))
	for i := range bodies {
		bodies[i] = calgen.Object(r, fmt.Sprint("u", i))
	}
	// concurrent puts share their fsyncs
	errs := make([]error, 16)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := w; i < len(bodies) && errs[w] == nil; i += len(errs) {
				_, errs[w] = db.PutObject(ctx, m, path, fmt.Sprintf("%d.ics", i), bodies[i], engine.PutOptions{})
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	objs := map[string]*query.CalendarObject{}
	for o, err := range v.Objects(path, engine.ListOptions{Bodies: true}) {
		if err != nil {
			t.Fatal(err)
		}
		if objs[o.Name], err = query.ParseCalendarObject(o.Body); err != nil {
			t.Fatalf("parse %s: %v", o.Name, err)
		}
	}
	zones := []*time.Location{nil, time.FixedZone("-12", -12*3600), time.FixedZone("+14", 14*3600)}
	const stamp = "20060102T150405Z"
	some, notAll := false, false
	for range 200 {
		start, end := calgen.Range(r)
		attrs := ""
		if !start.IsZero() {
			attrs += ` start="` + start.Format(stamp) + `"`
		}
		if !end.IsZero() {
			attrs += ` end="` + end.Format(stamp) + `"`
		}
		comp := []string{"VEVENT", "VTODO"}[r.IntN(2)]
		q, err := query.ParseCalendarQuery([]byte(`<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>` +
			`<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="` + comp + `"><C:time-range` + attrs + `/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`))
		if err != nil {
			t.Fatal(err)
		}
		qs, qe, ok := q.Range()
		if !ok {
			t.Fatalf("query %s has no range", attrs)
		}
		floating := zones[r.IntN(len(zones))]
		got := matchNames(t, v, path, objs, q, floating, engine.ListOptions{Start: qs, End: qe})
		want := matchNames(t, v, path, objs, q, floating, engine.ListOptions{})
		if !slices.Equal(got, want) {
			t.Fatalf("%s%s (floating in %v): %d matches through the index, %d by a full scan\nindex: %v\nscan:  %v",
				comp, attrs, floating, len(got), len(want), got, want)
		}
		some = some || len(want) > 0
		notAll = notAll || len(want) < len(objs)
	}
	if !some || !notAll {
		t.Errorf("the random queries matched nothing (%v) or everything (%v): they test nothing", !some, !notAll)
	}
}

package query

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/bench"
)

// TestObjectCacheBound: the cache never holds more than its budget, and
// an object too large for it is parsed but not kept.
func TestObjectCacheBound(t *testing.T) {
	const budget = 256 << 10
	c := NewObjectCache(budget)
	for i := range 200 {
		body := bench.Event(i, 0).Body
		if _, err := c.Parse(body); err != nil {
			t.Fatal(err)
		}
		if used, n := c.Size(); used > budget || n == 0 {
			t.Fatalf("after %d objects: %d bytes in %d objects, budget %d", i+1, used, n, budget)
		}
	}
	used, _ := c.Size()
	end := []byte("END:VEVENT\r\n")
	big := bytes.Replace(bench.Event(0, 0).Body, end, append(bytes.Repeat([]byte("COMMENT:x\r\n"), 4000), end...), 1)
	if _, err := c.Parse(big); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Size(); got != used {
		t.Fatalf("an object over an eighth of the budget was kept: %d bytes, was %d", got, used)
	}
	if NewObjectCache(0) != nil || NewObjectCache(-1) != nil {
		t.Fatal("a cache without a budget")
	}
	var none *ObjectCache
	if _, err := none.Parse(bench.Event(1, 0).Body); err != nil {
		t.Fatal(err)
	}
}

// TestObjectCacheAnswers: a query over objects from the cache (first
// parse and every later hit) answers as one over objects parsed anew,
// for the match and for expanded calendar-data, and bodies differing in
// one byte are never confused.
func TestObjectCacheAnswers(t *testing.T) {
	c := NewObjectCache(1 << 20)
	ctx := context.Background()
	var queries []*CalendarQuery
	for _, w := range []struct{ from, to time.Time }{
		{bench.QueryWindow.Start, bench.QueryWindow.End},
		{bench.QueryWindow.Start.AddDate(0, 3, 0), bench.QueryWindow.End.AddDate(0, 3, 0)},
		{bench.QueryWindow.Start.AddDate(-1, 0, 0), bench.QueryWindow.Start.AddDate(0, 0, 7)},
	} {
		queries = append(queries, expandQuery(t, w.from, w.to))
	}
	answer := func(q *CalendarQuery, obj *CalendarObject) string {
		ok, err := q.Match(ctx, obj, nil, Limits{})
		if err != nil || !ok {
			return fmt.Sprint(ok, err)
		}
		data, err := q.Data.Render(ctx, obj, nil, Limits{})
		return fmt.Sprintf("%s %v", data, err)
	}
	matched := 0
	for round := range 2 {
		for i := range 300 {
			body := bench.Event(i, round).Body
			for _, q := range queries {
				fresh, err := ParseCalendarObject(body)
				if err != nil {
					t.Fatal(err)
				}
				cached, err := c.Parse(body)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(cached.Body, body) {
					t.Fatalf("event %d: the cache returned another body", i)
				}
				want, got := answer(q, fresh), answer(q, cached)
				if got != want {
					t.Fatalf("event %d v%d: cached answer\n%s\nwant\n%s", i, round, got, want)
				}
				if want != "false <nil>" {
					matched++
				}
			}
		}
	}
	if matched == 0 {
		t.Fatal("no event matched: the comparison tested nothing")
	}
	if _, n := c.Size(); n == 0 {
		t.Fatal("nothing was cached")
	}
}

// TestObjectCacheConcurrent: queries on several goroutines share the
// cached objects (run with -race: the parsed trees are only read) and
// get the answers of objects parsed anew, while entries are evicted.
func TestObjectCacheConcurrent(t *testing.T) {
	c := NewObjectCache(256 << 10) // about 15 objects: evictions all the time
	q := expandQuery(t, bench.QueryWindow.Start, bench.QueryWindow.End)
	ctx := context.Background()
	answer := func(obj *CalendarObject) string {
		ok, err := q.Match(ctx, obj, nil, Limits{})
		data, rerr := q.Data.Render(ctx, obj, nil, Limits{})
		return fmt.Sprint(ok, err, string(data), rerr)
	}
	const n = 40
	want := make([]string, n)
	for i := range want {
		obj, err := ParseCalendarObject(bench.Event(i, 0).Body)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = answer(obj)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for k := range 3 * n {
				i := (k*7 + w) % n
				obj, err := c.Parse(bench.Event(i, 0).Body)
				if err == nil && answer(obj) != want[i] {
					err = fmt.Errorf("event %d: the cached object answers differently", i)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if used, _ := c.Size(); used > 256<<10 {
		t.Fatalf("%d bytes held, budget %d", used, 256<<10)
	}
}

// expandQuery is a calendar-query for the VEVENTs overlapping [from, to),
// asking for their calendar-data expanded over the same range.
func expandQuery(t *testing.T, from, to time.Time) *CalendarQuery {
	t.Helper()
	const stamp = "20060102T150405Z"
	f, e := from.Format(stamp), to.Format(stamp)
	q, err := ParseCalendarQuery([]byte(`<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data><c:expand start="` + f + `" end="` + e +
		`"/></c:calendar-data></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="` + f + `" end="` + e +
		`"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`))
	if err != nil {
		t.Fatal(err)
	}
	return q
}

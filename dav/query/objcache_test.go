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
		if _, err := c.Parse(Version{Coll: "/c/", Name: fmt.Sprint(i), Seq: uint64(i)}, body); err != nil {
			t.Fatal(err)
		}
		if used, n := c.Size(); used > budget || n == 0 {
			t.Fatalf("after %d objects: %d bytes in %d objects, budget %d", i+1, used, n, budget)
		}
	}
	used, _ := c.Size()
	end := []byte("END:VEVENT\r\n")
	big := bytes.Replace(bench.Event(0, 0).Body, end, append(bytes.Repeat([]byte("COMMENT:x\r\n"), 4000), end...), 1)
	if _, err := c.Parse(Version{Coll: "/c/", Name: "big"}, big); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Size(); got != used {
		t.Fatalf("an object over an eighth of the budget was kept: %d bytes, was %d", got, used)
	}
	if NewObjectCache(0) != nil || NewObjectCache(-1) != nil {
		t.Fatal("a cache without a budget")
	}
	var none *ObjectCache
	if _, err := none.Parse(Version{}, bench.Event(1, 0).Body); err != nil {
		t.Fatal(err)
	}
}

// TestObjectCacheAnswers: a query over objects from the cache (first
// parse and every later hit) answers as one over objects parsed anew,
// for the match and for expanded calendar-data, and two versions of an
// object are never confused.
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
				cached, err := c.Parse(Version{Coll: "/c/", Name: fmt.Sprint(i), Seq: uint64(round)}, body)
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
				obj, err := c.Parse(Version{Coll: "/c/", Name: fmt.Sprint(i)}, bench.Event(i, 0).Body)
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

// TestObjectCacheVersions: an entry is found only under the Version it
// was kept for (another Seq, ETag, name or collection misses), a body
// kept alone comes back unparsed and as it was given (a copy), Parse
// replaces it with the parsed object, bytes differing from an entry's
// are parsed anew, and KeepBody never evicts.
func TestObjectCacheVersions(t *testing.T) {
	c := NewObjectCache(1 << 20)
	v := Version{Coll: "/dav/home/a/calendar/", Name: "e.ics", ETag: `"x1"`, Seq: 7}
	body := bench.Event(3, 0).Body
	given := bytes.Clone(body)
	c.KeepBody(v, given)
	given[0] = 'X'
	got, obj, ok := c.Get(v)
	if !ok || obj != nil || !bytes.Equal(got, body) {
		t.Fatalf("KeepBody: Get = %.20q, %v, %v", got, obj, ok)
	}
	for _, other := range []Version{
		{Coll: v.Coll, Name: v.Name, ETag: v.ETag, Seq: 8},
		{Coll: v.Coll, Name: v.Name, ETag: `"x2"`, Seq: 7},
		{Coll: v.Coll, Name: "f.ics", ETag: v.ETag, Seq: 7},
		{Coll: "/dav/home/b/calendar/", Name: v.Name, ETag: v.ETag, Seq: 7},
	} {
		if _, _, ok := c.Get(other); ok {
			t.Fatalf("%+v found the entry of %+v", other, v)
		}
	}
	parsed, err := c.Parse(v, body)
	if err != nil {
		t.Fatal(err)
	}
	if got, obj, ok := c.Get(v); !ok || obj == nil || !bytes.Equal(got, body) || !bytes.Equal(obj.Body, body) || obj.cal != parsed.cal {
		t.Fatal("Parse did not keep the parsed object under its version")
	}
	newer := bench.Event(4, 1).Body
	obj, err = c.Parse(v, newer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(obj.Body, newer) || obj.cal == parsed.cal {
		t.Fatal("Parse of other bytes under a kept version returned the kept object")
	}
	if _, obj, _ := c.Get(v); obj == nil || !bytes.Equal(obj.Body, newer) {
		t.Fatal("the entry was not replaced by the bytes parsed anew")
	}

	small := NewObjectCache(64 << 10)
	for i := 0; ; i++ {
		if _, err := small.Parse(Version{Name: fmt.Sprint(i)}, bench.Event(i, 0).Body); err != nil {
			t.Fatal(err)
		}
		if used, _ := small.Size(); used > 60<<10 || i > 1000 {
			break
		}
	}
	used, n := small.Size()
	for i := range 200 {
		small.KeepBody(Version{Name: fmt.Sprint("b", i)}, bench.Event(i, 0).Body)
	}
	parsedLeft := 0
	for i := range n + 1000 {
		if _, obj, ok := small.Get(Version{Name: fmt.Sprint(i)}); ok && obj != nil {
			parsedLeft++
		}
	}
	if after, _ := small.Size(); parsedLeft != n || after > 64<<10 || after < used {
		t.Fatalf("KeepBody evicted: %d of %d parsed objects left, %d bytes (was %d)", parsedLeft, n, after, used)
	}
}

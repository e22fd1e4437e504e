package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/almanac/almanac/internal/calgen"
	"github.com/almanac/almanac/internal/testscale"
	"github.com/cockroachdb/pebble/v2"
)

// checkTimeIndex compares, for random ranges, the names a time-range
// listing of path yields (through the time index) with those of a full
// listing whose envelopes overlap the range; the listing takes a random
// half of its candidates from their index entries alone (FromIndex),
// whose ETag, component and envelope must equal the object's record.
func checkTimeIndex(t *testing.T, db *DB, r *rand.Rand, path string, ranges int) {
	t.Helper()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var all []*Object
	for o, err := range v.Objects(path, ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, o)
	}
	for range ranges {
		start, end := calgen.Range(r)
		var want, got []string
		byName := map[string]*Object{}
		for _, o := range all {
			if o.Envelope.Overlaps(start, end) {
				want = append(want, o.Name)
				byName[o.Name] = o
			}
		}
		picked := map[string]bool{}
		fromIndex := func(o *Object) bool {
			picked[o.Name] = r.IntN(2) == 0
			return picked[o.Name]
		}
		for o, err := range v.Objects(path, ListOptions{Start: start, End: end, Bodies: r.IntN(2) == 0, FromIndex: fromIndex}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, o.Name)
			// (past maxTimeCandidates every object comes from the scan)
			if full := byName[o.Name]; full != nil && picked[o.Name] &&
				(o.ETag != full.ETag || o.Component != full.Component || o.Envelope != full.Envelope) {
				t.Fatalf("%s%s from the index: ETag %s, component %q, envelope %v; the record: %s, %q, %v",
					path, o.Name, o.ETag, o.Component, o.Envelope, full.ETag, full.Component, full.Envelope)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s [%s, %s): the time index lists %d objects, the full scan %d\nindex: %v\nscan:  %v",
				path, start, end, len(got), len(want), got, want)
		}
	}
}

// TestTimeIndexMatchesScan is the time index's property test: after
// random puts (new and overwriting, which move an object's envelope),
// deletes, moves between collections, a collection's deletion and
// re-creation, a rebuild and a verify, every time-range listing equals
// the full scan filtered by envelope; and with a candidate bound below
// the answer the listing falls back to the scan and still agrees.
func TestTimeIndexMatchesScan(t *testing.T) {
	db := MustOpen(t)
	MustCalendar(t, db)
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/other/", Kind: KindCalendar, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	paths := []string{"/alice/cal/", "/alice/other/"}
	n := testscale.N(t, 150)
	live := map[string][]string{}
	for i := range n {
		p := paths[r.IntN(2)]
		switch op := r.IntN(10); {
		case op < 6 || len(live[p]) == 0:
			name := fmt.Sprintf("o%d.ics", r.IntN(n))
			if _, err := db.PutObject(ctx, alice, p, name, calgen.Object(r, fmt.Sprintf("u%d-%d", i, r.Int())), PutOptions{}); err != nil {
				t.Fatalf("put %s%s: %v", p, name, err)
			}
			if !slices.Contains(live[p], name) {
				live[p] = append(live[p], name)
			}
		case op < 8:
			k := r.IntN(len(live[p]))
			if err := db.DeleteObject(ctx, alice, p, live[p][k], ""); err != nil {
				t.Fatalf("delete %s%s: %v", p, live[p][k], err)
			}
			live[p] = slices.Delete(live[p], k, k+1)
		default:
			k := r.IntN(len(live[p]))
			to := paths[1-slices.Index(paths, p)]
			name := fmt.Sprintf("m%d.ics", i)
			if _, err := db.MoveObject(ctx, alice, MoveRequest{FromPath: p, FromName: live[p][k], ToPath: to, ToName: name}); err != nil {
				t.Fatalf("move %s%s: %v", p, live[p][k], err)
			}
			live[p] = slices.Delete(live[p], k, k+1)
			live[to] = append(live[to], name)
		}
		if i == n/2 {
			// the other calendar's index goes with it, and a new
			// collection at its path starts empty
			if err := db.DeleteCollection(ctx, alice, "/alice/other/"); err != nil {
				t.Fatal(err)
			}
			live["/alice/other/"] = nil
			if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/other/", Kind: KindCalendar, Owner: "alice"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range paths {
		checkTimeIndex(t, db, r, p, 200)
	}
	// one entry per live object: none left by deletes, moves or the
	// deleted collection
	entries, objects := 0, 0
	for _, fam := range []byte{keys.TimeIdx, keys.Obj} {
		it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{fam}, UpperBound: []byte{fam + 1}})
		if err != nil {
			t.Fatal(err)
		}
		for it.First(); it.Valid(); it.Next() {
			if fam == keys.TimeIdx {
				entries++
			} else {
				objects++
			}
		}
		it.Close()
	}
	if entries != objects {
		t.Errorf("%d time index entries for %d objects", entries, objects)
	}
	t.Run("Fallback", func(t *testing.T) {
		defer func(n int) { maxTimeCandidates = n }(maxTimeCandidates)
		maxTimeCandidates = 3
		checkTimeIndex(t, db, r, paths[0], 50)
	})
	t.Run("Rebuild", func(t *testing.T) {
		if err := db.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.Verify(ctx); err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			checkTimeIndex(t, db, r, p, 100)
		}
	})
}

// TestTimePlace: an envelope's level is the lowest whose buckets it
// spans at most two of; open and inverted envelopes go where every
// range can find them.
func TestTimePlace(t *testing.T) {
	const minInt, maxInt = -1 << 63, 1<<63 - 1
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, c := range []struct {
		name       string
		start, end int64
		level      byte
	}{
		{"Hour", day, day + 3600, 0},
		{"Empty", day, day, 0},
		{"Month", day, day + 31*86400, 2},
		{"Year", day, day + 400*86400, 3},
		{"Endless", day, maxInt, levelOpenEnd},
		{"NoStart", minInt, day, levelAll},
		{"Unbounded", minInt, maxInt, levelAll},
		{"NoTimes", 0, 0, levelAll},
		{"Inverted", day, day - 1, levelAll},
		{"Forever", -1 << 40, 1 << 40, levelAll},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, _ := timePlace(c.start, c.end); got != c.level {
				t.Errorf("timePlace(%d, %d) level = %d, want %d", c.start, c.end, got, c.level)
			}
		})
	}
}

// TestListNeedBody: a listing reads the bodies of the objects NeedBody
// picks and no others, through the time index and through the scan.
func TestListNeedBody(t *testing.T) {
	db := MustOpen(t)
	MustCalendar(t, db)
	for _, uid := range []string{"a", "b"} {
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", uid+".ics", event(uid), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, ranged := range []bool{false, true} {
		opts := ListOptions{Bodies: true, NeedBody: func(o *Object) bool { return o.Name == "b.ics" }}
		if ranged {
			opts.Start, opts.End = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
		}
		n := 0
		for o, err := range v.Objects("/alice/cal/", opts) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			if got, want := o.Body != nil, o.Name == "b.ics"; got != want {
				t.Errorf("ranged %v: %s has a body: %v, want %v", ranged, o.Name, got, want)
			}
		}
		if n != 2 {
			t.Errorf("ranged %v: %d objects listed, want 2", ranged, n)
		}
	}
}

// TestObjectsByNameAbsent: objectsByName finds every named object and
// skips absent names, whether the next name is a few keys on or far,
// before the first key, between keys and after the last.
func TestObjectsByNameAbsent(t *testing.T) {
	db := MustOpen(t)
	MustCalendar(t, db)
	var all []string
	for i := range 40 {
		name := fmt.Sprintf("o%02d.ics", i)
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", name, event(fmt.Sprint("u", i)), PutOptions{}); err != nil {
			t.Fatal(err)
		}
		all = append(all, name)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c, it, _, err := v.listing("/alice/cal/", false)
	if err != nil {
		t.Fatal(err)
	}
	it.Close()
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		var names, want []string
		for _, n := range all {
			if r.IntN(3) == 0 {
				names, want = append(names, n), append(want, n)
			}
			if r.IntN(8) == 0 {
				names = append(names, strings.TrimSuffix(n, ".ics")+"x.ics") // absent, just after n
			}
		}
		if r.IntN(2) == 0 {
			names = append(names, "a.ics", "zz.ics") // absent, before the first and after the last
		}
		slices.Sort(names)
		cands := make([]timeCandidate, len(names))
		for i, n := range names {
			cands[i].name = n
		}
		var got []string
		v.objectsByName(c.Id, cands, ListOptions{}, func(o *Object, err error) bool {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, o.Name)
			return true
		})
		if !slices.Equal(got, want) {
			t.Fatalf("names %v:\ngot  %v\nwant %v", names, got, want)
		}
	}
}

// TestTimeIndexFromIndexETag: a listing that takes an object from its
// time index entry alone (FromIndex) gets the ETag of its last put, and
// FromIndex is asked with it (dav keeps a series' spacing by ETag), both
// when the put keeps its times (the entry stays under its key) and when
// it moves them, and an object moved out of the range is not listed.
func TestTimeIndexFromIndexETag(t *testing.T) {
	db := MustOpen(t)
	MustCalendar(t, db)
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	asked := map[string]string{}
	all := func(o *Object) bool { asked[o.Name] = o.ETag; return true }
	list := func() map[string]string {
		t.Helper()
		clear(asked)
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		got := map[string]string{}
		for o, err := range v.Objects("/alice/cal/", ListOptions{Start: jan, End: jan.AddDate(0, 1, 0), FromIndex: all}) {
			if err != nil {
				t.Fatal(err)
			}
			if o.Seq != 0 || o.Component != "VEVENT" {
				t.Fatalf("%s: seq %d, component %q: not from the index", o.Name, o.Seq, o.Component)
			}
			got[o.Name] = o.ETag
		}
		if fmt.Sprint(asked) != fmt.Sprint(got) {
			t.Fatalf("FromIndex asked about %v, listed %v", asked, got)
		}
		return got
	}
	put := func(body string) string {
		t.Helper()
		res, err := db.PutObject(ctx, alice, "/alice/cal/", "e.ics", []byte(body), PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res.ETag
	}
	body := string(event("u1"))
	for i, b := range []string{
		body,
		strings.Replace(body, "SUMMARY:Meeting u1", "SUMMARY:Moved nowhere", 1),      // same times, new ETag
		strings.Replace(body, "DTEND:20260105T110000Z", "DTEND:20260106T110000Z", 1), // new end
	} {
		etag := put(b)
		if got := list(); got["e.ics"] != etag || len(got) != 1 {
			t.Fatalf("put %d (ETag %s): listed %v", i, etag, got)
		}
	}
	put(strings.NewReplacer("20260105T", "20260305T", "20260106T", "20260306T").Replace(body)) // out of January
	if got := list(); len(got) != 0 {
		t.Fatalf("after moving out of the range: listed %v", got)
	}
}

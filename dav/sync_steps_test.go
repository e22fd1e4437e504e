package dav

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestSyncCollectionAllocsFlat: a sync-collection REPORT with a token
// costs what the changes after it cost, not what the collection holds
// (README: "sync is O(changes)"), through the whole handler a client and
// bench-compare's sync scenarios reach — authentication, the collection's
// lookup, the token's check, the change index, the multistatus — where
// engine's TestChangesReadsOnlyChanges counts only the change index's
// block reads. The same requests against calendars of 200 and 2,000
// events, no change and then 10 changes after the token, are counted in
// heap allocations (deterministic, unlike time): the large calendar's may
// exceed the small one's by a few, never by its size (measured: 183 and
// 183 with no change, 224 and 224 after 10). Full listings of both are
// counted too, to show the count would see a scan (376 and 2,176).
func TestSyncCollectionAllocsFlat(t *testing.T) {
	const path = "/dav/home/alice/calendar/"
	type point struct{ none, ten, full float64 }
	measure := func(n int) point {
		h, db := mustHandler(t, Options{})
		mustObjects(t, h, db, n)
		token := func() string {
			c, err := db.Collection(path)
			if err != nil {
				t.Fatal(err)
			}
			return c.SyncToken
		}
		count := func(tok string) float64 {
			return testing.AllocsPerRun(20, func() {
				d := &discard{h: http.Header{}}
				h.ServeHTTP(d, syncRequest(tok))
				if d.code != http.StatusMultiStatus {
					t.Fatalf("sync-collection: status %d", d.code)
				}
			})
		}
		var p point
		before := token()
		p.none = count(before)
		for i := range 10 {
			uid := fmt.Sprintf("ev%06d", i*7)
			if _, err := db.PutObject(context.Background(), testMeta, path, uid+".ics", testEvent(uid+"-changed"), engine.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		p.ten = count(before)
		p.full = count("")
		return p
	}
	small, large := measure(200), measure(2000)
	t.Logf("allocations, 200 / 2,000 events: no change %.0f / %.0f, 10 changes %.0f / %.0f, full listing %.0f / %.0f",
		small.none, large.none, small.ten, large.ten, small.full, large.full)
	// A few allocations either way are chance: pooled writers and shapes
	// lost to a collection, and under the race detector sync.Pool drops a
	// random share of its puts (measured there: up to 9 apart). A scan
	// would add one per member, 1,800 more.
	slack := 8.0
	if raceEnabled {
		slack = 40
	}
	if large.none > small.none+slack || large.ten > small.ten+slack {
		t.Errorf("a sync after a token grows with the collection: 200 / 2,000 events: no change %.0f / %.0f, 10 changes %.0f / %.0f allocations",
			small.none, large.none, small.ten, large.ten)
	}
	if large.full < small.full+1000 {
		t.Errorf("full listings of 200 and 2,000 events took %.0f and %.0f allocations: the count does not see a scan", small.full, large.full)
	}
}

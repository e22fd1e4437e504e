package engine

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkAccess measures View.Access for bob, a member of 50 groups,
// each holding a grant of one of alice's 50 calendars (bob also holds a
// write delegation of carol's home): through bob's mount, at alice's URL
// of a shared calendar, at carol's URL as a delegate, at a calendar of
// alice's not shared with him (404), and in his own home. Target: < 20 µs
// (issue 15).
func BenchmarkAccess(b *testing.B) {
	db := sharingDB(b, vfs.NewMem())
	for i := range 50 {
		g := fmt.Sprintf("g%02d", i)
		must(b, db.PutGroup(ctx, alice, Group{Name: g, Members: []string{"bob", "carol"}}))
		path := fmt.Sprintf("/h/alice/c%02d/", i)
		if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: path, Kind: KindCalendar, Owner: "alice"}); err != nil {
			b.Fatal(err)
		}
		must(b, db.Grant(ctx, alice, path, g, AccessRead, GrantOptions{AutoAccept: true}))
	}
	if _, err := db.CreateCollection(ctx, Meta{Actor: "carol"}, CollectionSpec{Path: "/h/carol/cal/", Kind: KindCalendar, Owner: "carol"}); err != nil {
		b.Fatal(err)
	}
	must(b, db.SetProxy(ctx, Meta{Actor: "carol"}, "carol", "g49", AccessReadWrite))
	for _, tc := range []struct {
		name, path string
		want       Access
	}{
		{"mount", "/h/bob/alice-c25/x.ics", AccessRead},
		{"owner-url", "/h/alice/c25/x.ics", AccessRead},
		{"delegate", "/h/carol/cal/x.ics", AccessReadWrite},
		{"none", "/h/alice/cal/x.ics", AccessNone},
		{"own", "/h/bob/mine/x.ics", AccessOwner},
	} {
		b.Run(tc.name, func(b *testing.B) {
			v, err := db.View()
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			b.ReportAllocs()
			for b.Loop() {
				r, err := v.Access("bob", tc.path)
				if err != nil || r.Access != tc.want {
					b.Fatalf("Access = %v, %v; want %v", r.Access, err, tc.want)
				}
			}
		})
	}
}

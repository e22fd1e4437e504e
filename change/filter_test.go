package change

import (
	"testing"

	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
)

func TestFilterMatch(t *testing.T) {
	put := &feedv1.Change{Op: feedv1.Op_OP_OBJECT_PUT, Principal: "alice", Collection: "/dav/home/alice/cal/", Kind: feedv1.Kind_KIND_CALENDAR}
	move := &feedv1.Change{Op: feedv1.Op_OP_OBJECT_MOVED, Principal: "alice", Collection: "/dav/home/alice/cal/",
		ToPrincipal: "bob", ToCollection: "/dav/home/bob/cal/", Kind: feedv1.Kind_KIND_CALENDAR}
	grant := &feedv1.Change{Op: feedv1.Op_OP_SHARE_GRANTED, Principal: "alice", Collection: "/dav/home/alice/cal/", Grantee: "carol"}
	for _, c := range []struct {
		name string
		f    Filter
		ch   *feedv1.Change
		want bool
	}{
		{"OK", Filter{Reader: "alice"}, put, true},
		{"OpsSelect", Filter{Reader: "alice", Ops: []feedv1.Op{feedv1.Op_OP_OBJECT_PUT}}, put, true},
		{"OpsDrop", Filter{Reader: "alice", Ops: []feedv1.Op{feedv1.Op_OP_OBJECT_DELETED}}, put, false},
		{"KindsDrop", Filter{Reader: "alice", Kinds: []feedv1.Kind{feedv1.Kind_KIND_CONTACTS}}, put, false},
		{"PrefixDrop", Filter{Reader: "alice", Prefix: "/dav/home/alice/work/"}, put, false},
		{"MoveByDestination", Filter{Reader: "bob", Principal: "bob", Prefix: "/dav/home/bob/"}, move, true},
		{"PrincipalDrop", Filter{Admin: true, Principal: "bob"}, put, false},
		{"GrantToOthersHidden", Filter{Reader: "dave"}, grant, false},
		{"GrantToMe", Filter{Reader: "carol"}, grant, true},
		{"GrantAdmin", Filter{Admin: true}, grant, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.f.Match(c.ch); got != c.want {
				t.Errorf("Match = %v, want %v", got, c.want)
			}
		})
	}
}

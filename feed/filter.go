package feed

import (
	"github.com/almanac/almanac/change"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
)

// Principal is an authenticated caller of the feed.
type Principal struct {
	// Name is the user name.
	Name string
	// Admin callers see every change.
	Admin bool
}

// mayRead reports whether p may see ch: an admin sees everything, a user
// the changes of collections they own (a move: either end).
func (p Principal) mayRead(ch *feedv1.Change) bool {
	if p.Admin {
		return true
	}
	return p.Name != "" && (ch.Principal == p.Name || (ch.Op == feedv1.Op_OP_OBJECT_MOVED && ch.ToPrincipal == p.Name))
}

// newFilter narrows what who may read to what req selects.
func newFilter(who Principal, req *feedv1.SubscribeRequest) change.Filter {
	return change.Filter{Reader: who.Name, Admin: who.Admin, Principal: req.GetPrincipal(),
		Prefix: req.GetCollectionPrefix(), Kinds: req.GetKinds()}
}

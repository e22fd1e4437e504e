package feed

import (
	"slices"
	"strings"

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

// filter narrows what one subscriber's principal may read to what the
// request selects.
type filter struct {
	who       Principal
	principal string
	prefix    string
	kinds     []feedv1.Kind
}

func newFilter(who Principal, req *feedv1.SubscribeRequest) filter {
	return filter{who: who, principal: req.GetPrincipal(), prefix: req.GetCollectionPrefix(), kinds: req.GetKinds()}
}

// match reports whether the subscriber receives ch, which comes from what
// its principal may read: the whole log for an admin, View.ReadableLog
// (their own collections, those shared with them, the homes they are a
// delegate of) for a user.
func (f filter) match(ch *feedv1.Change) bool {
	if sharingOp(ch.Op) && !f.who.Admin && ch.Principal != f.who.Name && ch.Grantee != f.who.Name {
		return false // a sharee sees the sharing of others' collections that names them only
	}
	moved := ch.Op == feedv1.Op_OP_OBJECT_MOVED
	if f.principal != "" && ch.Principal != f.principal && (!moved || ch.ToPrincipal != f.principal) {
		return false
	}
	if f.prefix != "" && !strings.HasPrefix(ch.Collection, f.prefix) && (!moved || !strings.HasPrefix(ch.ToCollection, f.prefix)) {
		return false
	}
	if len(f.kinds) > 0 && !slices.Contains(f.kinds, ch.Kind) {
		return false
	}
	return true
}

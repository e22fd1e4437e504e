package change

import (
	"slices"
	"strings"

	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
)

// Filter narrows the changes a reader may read to the ones a consumer
// selects (a feed subscription, a webhook). The changes it is given come
// from what the reader may read: the whole log for an admin,
// engine.View.ReadableLog (their own collections, those shared with them,
// the homes they are a delegate of) for a user.
type Filter struct {
	// Reader is the user the changes are read for; Admin readers see
	// every change.
	Reader string
	Admin  bool
	// Principal, Prefix, Kinds and Ops select (empty: everything): the
	// changes of Principal's collections, of collections whose path
	// starts with Prefix, of these kinds and operations. A move matches
	// by either end.
	Principal string
	Prefix    string
	Kinds     []feedv1.Kind
	Ops       []feedv1.Op
}

// Match reports whether the consumer receives ch.
func (f Filter) Match(ch *feedv1.Change) bool {
	if SharingOp(ch.Op) && !f.Admin && ch.Principal != f.Reader && ch.Grantee != f.Reader {
		return false // a sharee sees the sharing of others' collections that names them only
	}
	moved := ch.Op == feedv1.Op_OP_OBJECT_MOVED
	if f.Principal != "" && ch.Principal != f.Principal && (!moved || ch.ToPrincipal != f.Principal) {
		return false
	}
	if f.Prefix != "" && !strings.HasPrefix(ch.Collection, f.Prefix) && (!moved || !strings.HasPrefix(ch.ToCollection, f.Prefix)) {
		return false
	}
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, ch.Kind) {
		return false
	}
	if len(f.Ops) > 0 && !slices.Contains(f.Ops, ch.Op) {
		return false
	}
	return true
}

package engine

import "github.com/almanac/almanac/engine/internal/keys"

// Readable returns a function that reports whether event seq is one that
// ReadableLog(user) streams: an event of the user's own collections, of
// the home of a user who made them (or one of their groups) a delegate,
// or of a collection shared with them at AccessRead or more, as this view
// decides. It reads the same indexes as ReadableLog, a point lookup in
// each, so GetEvent and History of the feed follow the rules of
// Subscribe. The function is valid while the view is open.
func (v *View) Readable(user string) (func(seq Seq) (bool, error), error) {
	has := func(key []byte) (bool, error) {
		switch _, err := getBytes(v.v.snap, key); err {
		case nil:
			return true, nil
		case ErrNotFound:
			return false, nil
		default:
			return false, err
		}
	}
	delegators, err := v.delegatorsOf(user)
	if err != nil {
		return nil, err
	}
	owners := append([]string{user}, delegators...)
	shares, err := getSharesOf(v.v.snap, user)
	if err != nil {
		return nil, err
	}
	return func(seq Seq) (bool, error) {
		if seq < 1 || seq > v.v.head {
			return false, nil
		}
		for _, o := range owners {
			if ok, err := has(keys.OwnerLogKey(o, uint64(seq))); ok || err != nil {
				return ok, err
			}
		}
		for _, id := range shares {
			if ok, err := has(keys.CollHistKey(id, uint64(seq))); ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	}, nil
}

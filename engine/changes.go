package engine

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// SyncTokenPrefix starts every sync token; RFC 6578 §3.2 wants a URI.
const SyncTokenPrefix = "http://almanac.invalid/sync/"

// syncToken encodes the token for collection id at seq: the store id
// (which makes a token of another database, or of one restored from a
// backup, invalid) and the collection id and seq encrypted with the store's
// key, so a token shows no client the global write count.
func (db *DB) syncToken(id uint64, seq Seq) string {
	return SyncTokenPrefix + db.storeID + "/" + db.tokens.seal(id, uint64(seq))
}

// parseSyncToken returns the sequence number of a token for collection c.
// Tokens in the older clear form (store/id/seq) are still accepted.
func (db *DB) parseSyncToken(token string, c *statev1.Collection) (Seq, error) {
	id, seq, ok := db.openSyncToken(token)
	if !ok || id != c.Id || seq > c.LastSeq {
		return 0, fmt.Errorf("%w: %q", ErrInvalidToken, token)
	}
	if seq < c.Horizon {
		return 0, fmt.Errorf("%w: %q is older than the collection's horizon", ErrTokenExpired, token)
	}
	return Seq(seq), nil
}

// openSyncToken returns the collection id and sequence number a token of
// this store holds; false when it is malformed or another store's.
func (db *DB) openSyncToken(token string) (id, seq uint64, ok bool) {
	rest, ok := strings.CutPrefix(token, SyncTokenPrefix)
	parts := strings.Split(rest, "/")
	if !ok || len(parts) < 2 || len(parts) > 3 || parts[0] != db.storeID {
		return 0, 0, false
	}
	if len(parts) == 2 {
		return db.tokens.open(parts[1])
	}
	id, err1 := strconv.ParseUint(parts[1], 10, 64)
	seq, err2 := strconv.ParseUint(parts[2], 10, 64)
	return id, seq, err1 == nil && err2 == nil
}

// Changes answers an RFC 6578 sync-collection: the names of the collection
// at path changed or deleted after token, oldest change first, each name
// once. It reads only the change index from the token on: O(changes), never
// a scan of the collection. An empty token lists every live object. limit
// > 0 cuts the answer after limit changes; the returned token then resumes
// after the last one.
//
// Errors: ErrNotFound, ErrInvalidToken, ErrTokenExpired.
func (v *View) Changes(path, token string, limit int) (*ChangeSet, error) {
	c, err := collectionByPath(v.v.snap, path)
	if err != nil {
		return nil, err
	}
	var from Seq
	full := token == ""
	sibling := false // a token of c's inbox or calendar sibling (inboxToken)
	if !full {
		if from, full, sibling = v.db.siblingToken(v.v.snap, token, c); !sibling {
			if from, err = v.db.parseSyncToken(token, c); err != nil {
				return nil, err
			}
		}
	}
	it, err := v.v.snap.NewIter(&pebble.IterOptions{
		LowerBound: keys.ChangeSeqPrefix(c.Id, uint64(from)+1),
		UpperBound: keys.PrefixEnd(keys.IDPrefix(keys.Change, c.Id)),
	})
	if err != nil {
		return nil, fmt.Errorf("engine: change iterator: %w", err)
	}
	defer it.Close()
	cs := &ChangeSet{}
	last := Seq(c.LastSeq)
	for it.First(); it.Valid(); it.Next() {
		seq, err := keys.IDSeq(it.Key())
		if err != nil {
			return nil, err
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("engine: read change: %w", err)
		}
		var ch statev1.Change
		if err := proto.Unmarshal(val, &ch); err != nil {
			return nil, fmt.Errorf("engine: decode change: %w", err)
		}
		if full && ch.Deleted {
			continue
		}
		if limit > 0 && len(cs.Changes) >= limit {
			if n := len(cs.Changes); cs.Changes[n-1].Seq == Seq(seq) {
				// One event changed two names (a move inside the
				// collection): a token cannot split them, so keep
				// the pair together, over the limit if it must be.
				if k := cutBefore(cs.Changes, Seq(seq)); k > 0 {
					cs.Changes = cs.Changes[:k]
				} else {
					goto keep
				}
			}
			cs.Truncated = true
			last = cs.Changes[len(cs.Changes)-1].Seq
			break
		}
	keep:
		cs.Changes = append(cs.Changes, Change{Name: ch.Name, Deleted: ch.Deleted, ETag: ch.Etag, Seq: Seq(seq)})
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("engine: change iterator: %w", err)
	}
	cs.Token = v.db.syncToken(c.Id, last)
	if sibling && !cs.Truncated && c.Kind == eventv1.CollectionKind_COLLECTION_KIND_SCHEDULE_INBOX {
		cs.Token = token // see inboxToken: the calendar's token stays its own
	}
	return cs, nil
}

// Changes answers a sync-collection from the latest view; see View.Changes.
func (db *DB) Changes(path, token string, limit int) (*ChangeSet, error) {
	v, err := db.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return v.Changes(path, token, limit)
}

// cutBefore returns how many leading changes have a sequence number below seq.
func cutBefore(cs []Change, seq Seq) int {
	k := len(cs)
	for k > 0 && cs[k-1].Seq == seq {
		k--
	}
	return k
}

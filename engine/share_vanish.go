package engine

import (
	"fmt"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
)

// revokeVanishing appends, before the deletion of the user or group
// principal, a revocation of every grant to it and a withdrawal of every
// delegation to it, by the deletion's actor: the shared collections' and
// the delegators' histories and the feed show why the share ended, and
// nothing of the principal is left for an account or group created again
// under the name. (The deletion's apply drops what an older log, written
// before these events existed, still holds: dropPrincipal.)
func revokeVanishing(tx *txn, m Meta, principal, what string) error {
	if m.Reason == "" {
		m.Reason = fmt.Sprintf("%s %s deleted", what, principal)
	}
	ids, err := getIDs(tx.rw, keys.GrantedToKey(principal))
	if err != nil {
		return err
	}
	for _, id := range ids.Ids {
		coll, err := getCollection(tx.rw, id)
		if err != nil {
			return err
		}
		if err := tx.append(m, &eventv1.Event{
			Op: eventv1.Op_OP_SHARE_REVOKED, CollectionId: id, CollectionPath: coll.Path, Owner: coll.Owner,
			CollectionKind: coll.Kind, Share: &eventv1.Share{Grantee: principal},
		}); err != nil {
			return err
		}
	}
	of, err := getNames(tx.rw, keys.ProxyOfKey(principal))
	if err != nil {
		return err
	}
	for _, d := range of.Names {
		if err := tx.append(m, &eventv1.Event{Op: eventv1.Op_OP_PROXY_SET, Owner: d, Proxy: &eventv1.Proxy{
			Delegator: d, Delegate: principal, Access: eventv1.ProxyAccess_PROXY_ACCESS_UNSPECIFIED,
		}}); err != nil {
			return err
		}
	}
	return nil
}

// Package keys encodes the engine's Pebble keys so that byte order equals
// the logical order: sequence numbers and collection ids are fixed-width
// big-endian, names and paths are raw bytes after a fixed-width prefix, and
// a 0x00 byte ends a name that is followed by more (ObjHistKey, PathHistKey).
//
// The families, their prefixes and what each record holds are listed once,
// in engine/doc.go ("Key layout"); the prefix constants below are the
// encoding of that table. Everything but Log and Meta is a projection that
// Rebuild derives again (ProjectionPrefixes).
package keys

import (
	"encoding/binary"
	"errors"
)

// Prefixes of the key families. The log's sorts before every other
// family (a projection's prefix is a byte above Log, TestPrefixesAfterLog):
// a memtable flush then spans the newest log keys and the projections,
// never the older log, and compactions leave the log's tables alone
// instead of rewriting them with every flush of projections.
const (
	Log           byte = 'L'
	Meta          byte = 'm'
	Path          byte = 'p'
	Coll          byte = 'c'
	Obj           byte = 'o'
	Change        byte = 'g'
	Tomb          byte = 't'
	UID           byte = 'u'
	CollHist      byte = 'h'
	ObjHist       byte = 'i'
	PathHist      byte = 'q'
	User          byte = 'a'
	Token         byte = 'k'
	OwnerLog      byte = 'w'
	Group         byte = 'd'
	Share         byte = 'e'
	Home          byte = 'f'
	MemberOf      byte = 'j'
	Mount         byte = 'n'
	Grants        byte = 'r'
	GrantedTo     byte = 's'
	Proxy         byte = 'x'
	ProxyOf       byte = 'v'
	Link          byte = 'y'
	Links         byte = 'z'
	Push          byte = 'P'
	Webhook       byte = 'W'
	Email         byte = 'M'
	DirectoryUser byte = 'U'
	TimeIdx       byte = 'T'
	Reschedule    byte = 'R'
	sep           byte = 0x00
	seqLen             = 8
	prefixLen          = 1
	IDPrefixLen        = prefixLen + seqLen // length of the prefix that names a collection in its families
)

// LegacyLog is the log's prefix in databases written before the log moved
// in front of the projections; Open moves such a log.
const LegacyLog byte = 'l'

// ProjectionPrefixes lists every projection family, for Rebuild and Verify.
var ProjectionPrefixes = []byte{Path, Coll, Obj, Change, Tomb, UID, CollHist, ObjHist, PathHist, User, Token, OwnerLog,
	Group, Share, Home, MemberOf, Mount, Grants, GrantedTo, Proxy, ProxyOf, Link, Links, Push, Webhook, Email, DirectoryUser, TimeIdx, Reschedule}

// SharingPrefixes lists the families of sharing (groups, grants, shares,
// mounts, proxies, links) and of push registrations: apply reads them
// back by point lookups only.
var SharingPrefixes = []byte{Group, Share, Home, MemberOf, Mount, Grants, GrantedTo, Proxy, ProxyOf, Link, Links, Push}

// RetiredPrefixes lists families that older projection versions wrote
// ('b': object bodies, now read from the log); Rebuild drops them.
var RetiredPrefixes = []byte{'b'}

// ErrMalformed is returned when a key does not have the expected shape.
var ErrMalformed = errors.New("keys: malformed key")

func u64(dst []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(dst, v) }

// start returns a key of family prefix with room for n bytes in all: each
// key is one allocation (apply builds several per event).
func start(prefix byte, n int) []byte {
	k := make([]byte, 1, n)
	k[0] = prefix
	return k
}

// LogKey is the key of the event with sequence number seq.
func LogKey(seq uint64) []byte { return u64(start(Log, prefixLen+seqLen), seq) }

// AppendLogKey appends LogKey(seq) to dst, for a reader of many records
// that reuses one key.
func AppendLogKey(dst []byte, seq uint64) []byte { return u64(append(dst, Log), seq) }

// ParseLogKey returns the sequence number of a log key.
func ParseLogKey(k []byte) (uint64, error) {
	if len(k) != prefixLen+seqLen || k[0] != Log {
		return 0, ErrMalformed
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// MetaKey is the key of a metadata record.
func MetaKey(name string) []byte { return append([]byte{Meta}, name...) }

// PathKey maps a collection path to its id.
func PathKey(path string) []byte { return append([]byte{Path}, path...) }

// ParsePathKey returns the path of a PathKey.
func ParsePathKey(k []byte) (string, error) {
	if len(k) < 1 || k[0] != Path {
		return "", ErrMalformed
	}
	return string(k[1:]), nil
}

// CollKey is the key of a collection record.
func CollKey(id uint64) []byte { return u64(start(Coll, IDPrefixLen), id) }

func idName(prefix byte, id uint64, name string) []byte {
	return idNameRoom(prefix, id, name, 0)
}

// idNameRoom is idName with room for extra bytes more.
func idNameRoom(prefix byte, id uint64, name string, extra int) []byte {
	return append(u64(start(prefix, IDPrefixLen+len(name)+extra), id), name...)
}

// ObjKey is the key of an object record.
func ObjKey(id uint64, name string) []byte { return idName(Obj, id, name) }

// TombKey is the key of a deleted name's tombstone.
func TombKey(id uint64, name string) []byte { return idName(Tomb, id, name) }

// UIDKey is the key of a UID index entry.
func UIDKey(id uint64, uid string) []byte { return idName(UID, id, uid) }

// UserKey is the key of a user account.
func UserKey(name string) []byte { return append([]byte{User}, name...) }

// TokenKey is the key of the index entry of an API token id.
func TokenKey(id string) []byte { return append([]byte{Token}, id...) }

// EmailKey is the key of an email address (normalized: the domain in
// lower case) in the index of users' addresses; its value is the user's
// name.
func EmailKey(addr string) []byte { return append([]byte{Email}, addr...) }

// TimeIdxKey is the key of an object's entry in the time index of
// collection id: its level, the bucket its envelope starts in, its name.
func TimeIdxKey(id uint64, level byte, bucket uint64, name string) []byte {
	k := append(u64(start(TimeIdx, IDPrefixLen+1+seqLen+len(name)), id), level)
	return append(u64(k, bucket), name...)
}

// TimeIdxBucket is the prefix of the entries of collection id's time
// index at level from bucket on: the bound of a scan.
func TimeIdxBucket(id uint64, level byte, bucket uint64) []byte {
	return u64(append(u64([]byte{TimeIdx}, id), level), bucket)
}

// TimeIdxName returns the name part of a TimeIdxKey.
func TimeIdxName(k []byte) (string, error) {
	if len(k) < IDPrefixLen+1+seqLen || k[0] != TimeIdx {
		return "", ErrMalformed
	}
	return string(k[IDPrefixLen+1+seqLen:]), nil
}

// IDPrefix is the prefix of every key of family prefix in collection id.
func IDPrefix(prefix byte, id uint64) []byte { return u64([]byte{prefix}, id) }

// Name returns the name part of an id-and-name key (ObjKey, TombKey, ...).
func Name(k []byte) (string, error) {
	if len(k) < IDPrefixLen {
		return "", ErrMalformed
	}
	return string(k[IDPrefixLen:]), nil
}

// ChangeKey is the key of a change-index entry. The name is part of the key
// because one event (a move inside a collection) changes two names.
func ChangeKey(id, seq uint64, name string) []byte {
	return append(u64(u64(start(Change, IDPrefixLen+seqLen+len(name)), id), seq), name...)
}

// ChangeSeqPrefix is the prefix of the change entries of id at seq: the
// lower bound of a scan for changes from seq on.
func ChangeSeqPrefix(id, seq uint64) []byte { return u64(u64([]byte{Change}, id), seq) }

// CollHistKey is the key of a collection-history entry.
func CollHistKey(id, seq uint64) []byte {
	return u64(u64(start(CollHist, IDPrefixLen+seqLen), id), seq)
}

// IDSeq returns the sequence number of a ChangeKey or CollHistKey.
func IDSeq(k []byte) (uint64, error) {
	if len(k) < IDPrefixLen+seqLen {
		return 0, ErrMalformed
	}
	return binary.BigEndian.Uint64(k[IDPrefixLen:]), nil
}

// ObjHistPrefix is the prefix of every history entry of one name.
func ObjHistPrefix(id uint64, name string) []byte { return append(idName(ObjHist, id, name), sep) }

// ObjHistKey is the key of an object-history entry.
func ObjHistKey(id uint64, name string, seq uint64) []byte {
	return u64(append(idNameRoom(ObjHist, id, name, 1+seqLen), sep), seq)
}

// PathHistPrefix is the prefix of every path-history entry of one path.
func PathHistPrefix(path string) []byte { return append(append([]byte{PathHist}, path...), sep) }

// PathHistKey is the key recording that collection id had path.
func PathHistKey(path string, id uint64) []byte { return u64(PathHistPrefix(path), id) }

// OwnerLogPrefix is the prefix of the owner index entries of owner.
func OwnerLogPrefix(owner string) []byte { return append(append([]byte{OwnerLog}, owner...), sep) }

// OwnerLogKey records that event seq touched a collection owned by owner.
func OwnerLogKey(owner string, seq uint64) []byte { return u64(OwnerLogPrefix(owner), seq) }

// TrailingSeq returns the last eight bytes of k as a sequence number or id
// (ObjHistKey, PathHistKey, OwnerLogKey).
func TrailingSeq(k []byte) (uint64, error) {
	if len(k) < seqLen+1 {
		return 0, ErrMalformed
	}
	return binary.BigEndian.Uint64(k[len(k)-seqLen:]), nil
}

// GroupKey is the key of a group record.
func GroupKey(name string) []byte { return append([]byte{Group}, name...) }

// nameSep returns prefix, name and the 0x00 that ends it.
func nameSep(prefix byte, name string, extra int) []byte {
	return append(append(start(prefix, prefixLen+len(name)+1+extra), name...), sep)
}

// SharePrefix is the prefix of the share records of user.
func SharePrefix(user string) []byte { return nameSep(Share, user, 0) }

// ShareKey is the key of what user holds of collection id.
func ShareKey(user string, id uint64) []byte { return u64(nameSep(Share, user, seqLen), id) }

// HomeKey maps a user to the id of their home collection.
func HomeKey(user string) []byte { return append([]byte{Home}, user...) }

// MemberOfKey is the key of the sorted list of a user's groups.
func MemberOfKey(user string) []byte { return append([]byte{MemberOf}, user...) }

// MountPrefix is the prefix of the mounts in user's home.
func MountPrefix(user string) []byte { return nameSep(Mount, user, 0) }

// MountKey maps the mount name in user's home to a collection id.
func MountKey(user, name string) []byte {
	return append(nameSep(Mount, user, len(name)), name...)
}

// MountName returns the mount name of a MountKey of user.
func MountName(k []byte, user string) (string, error) {
	if len(k) < prefixLen+len(user)+1 {
		return "", ErrMalformed
	}
	return string(k[prefixLen+len(user)+1:]), nil
}

// GrantsKey is the key of the grants on collection id.
func GrantsKey(id uint64) []byte { return u64(start(Grants, IDPrefixLen), id) }

// GrantedToKey is the key of the collections granted to a user or group.
func GrantedToKey(principal string) []byte { return append([]byte{GrantedTo}, principal...) }

// DirectoryUserKey is the key of what a directory said of user name.
func DirectoryUserKey(name string) []byte { return append([]byte{DirectoryUser}, name...) }

// ProxyKey is the key of a delegator's delegates.
func ProxyKey(delegator string) []byte { return append([]byte{Proxy}, delegator...) }

// ProxyOfKey is the key of the delegators a user or group is a delegate of.
func ProxyOfKey(delegate string) []byte { return append([]byte{ProxyOf}, delegate...) }

// LinkKey is the key of a public link, by the hash of its token.
func LinkKey(tokenSHA256 string) []byte { return append([]byte{Link}, tokenSHA256...) }

// WebhookKey is the key of webhook id.
func WebhookKey(id string) []byte { return append([]byte{Webhook}, id...) }

// LinksKey is the key of the public links of collection id.
func LinksKey(id uint64) []byte { return u64(start(Links, IDPrefixLen), id) }

// Push registrations (family Push, then a sub-family byte).
const (
	pushReg   byte = 'r'
	pushColl  byte = 'c'
	pushUser  byte = 'u'
	pushVAPID byte = 'k'
)

// PushRegKey is the key of the push registration id.
func PushRegKey(id string) []byte { return append([]byte{Push, pushReg}, id...) }

// PushRegPrefix starts every PushRegKey.
func PushRegPrefix() []byte { return []byte{Push, pushReg} }

// PushCollKey is the key of the ids of collection id's push registrations.
func PushCollKey(id uint64) []byte { return u64([]byte{Push, pushColl}, id) }

// PushUserKey is the key of the ids of user's push registrations.
func PushUserKey(user string) []byte { return append([]byte{Push, pushUser}, user...) }

// PushVAPIDKey is the key of the VAPID public key of the last rotation.
func PushVAPIDKey() []byte { return []byte{Push, pushVAPID} }

// PrefixEnd returns the smallest key greater than every key with prefix p.
func PrefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// U64 encodes v as eight big-endian bytes (values of PathKey and TombKey).
func U64(v uint64) []byte { return u64(nil, v) }

// ParseU64 decodes a value written by U64.
func ParseU64(b []byte) (uint64, error) {
	if len(b) != seqLen {
		return 0, ErrMalformed
	}
	return binary.BigEndian.Uint64(b), nil
}

// RescheduleKey is the key of item idx of the pending reschedule job
// whose OP_RESCHEDULE event is at seq job.
func RescheduleKey(job uint64, idx uint32) []byte {
	return binary.BigEndian.AppendUint32(u64([]byte{Reschedule}, job), idx)
}

// RescheduleJobIdx returns the job and the item index of a RescheduleKey.
func RescheduleJobIdx(k []byte) (uint64, uint32, error) {
	if len(k) != prefixLen+seqLen+4 || k[0] != Reschedule {
		return 0, 0, ErrMalformed
	}
	return binary.BigEndian.Uint64(k[prefixLen:]), binary.BigEndian.Uint32(k[prefixLen+seqLen:]), nil
}

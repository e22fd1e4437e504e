// Package engine is Almanac's storage: an append-only event log in one
// Pebble database and the projections derived from it. It knows nothing of
// HTTP, XML, gRPC or NATS; package dav and package feed use its Go API.
//
// # Event model
//
// Every change — a collection created, deleted or re-propertied, an object
// put, deleted or moved, a user account set or removed — is one immutable
// Event (protobuf almanac.event.v1.Event) with a sequence number, the
// wall-clock time, the actor, the client's User-Agent and a request id.
// Object puts carry the body exactly as the client sent it: go-ical and
// go-vcard are used to validate and to derive facts (UID, component type,
// time envelope), never to produce what clients read back. Derived facts
// are recorded in the event so that replaying the log never parses.
//
// # Write path
//
// One writer goroutine owns all writes. Callers validate and parse outside
// it and hand it commands; it drains every command waiting, checks each
// against the state including the earlier commands of the same group,
// assigns consecutive sequence numbers, and writes the log records and the
// projection updates in one Pebble batch committed with Sync: one fsync
// acknowledges the whole group. A rejected command writes nothing.
//
// Pebble makes a batch visible to readers before its fsync completes. The
// engine therefore never reads the live database for clients: after each
// synced commit the writer publishes a new snapshot (a "view"), and every
// read — objects, CTags, sync tokens, the log for the feed — goes through
// the latest published view. Nothing a client or subscriber has seen can
// vanish in a crash.
//
// The fsync is the put's cost. Pebble's write-ahead logs are never reused
// in place (a purge must not leave erased bytes in a recycled log), so each
// is a new file, and appending to a new file makes every fdatasync commit
// metadata too. Instead a background zeroer writes zeros just ahead of the
// log's end (zeroedWAL): the log's syncs then write data only, ~110 µs
// against ~160 µs on the development disk. Recovery reads zeros as the end
// of a log, as Pebble does for its preallocated and recycled logs.
//
// # Key layout
//
// The one table of the key families (package engine/internal/keys encodes
// them: ids and sequence numbers are 8-byte big-endian, names and paths
// raw bytes, 0x00 ends a name followed by more):
//
//	L <seq>                   the log: the event with that sequence number
//	                          (source of truth; first in key order)
//	m <name>                  meta: "store-id", "projections" (the layout
//	                          version), "rebuilding" (set while a rebuild
//	                          runs), "cursor/<consumer>" (feed positions),
//	                          "scrub" (purge's WAL rotations)
//	p <path>                  live collection path -> id
//	c <id>                    collection record (props, last seq = CTag,
//	                          tombstone horizon)
//	o <id> <name>             object record (ETag, UID, size, envelope,
//	                          body_seq; no body)
//	g <id> <seq> <name>       change index: the latest change of each name
//	t <id> <name>             tombstone: seq of a deleted name's deletion
//	u <id> <uid>              UID -> name, for no-uid-conflict
//	h <id> <seq>              collection history: every event of the collection
//	i <id> <name> 0x00 <seq>  object history: every event of one name
//	q <path> 0x00 <id>        path history: every collection that had the path
//	a <name>                  user account
//	k <token id>              API token id -> the name of the user holding it
//	w <owner> 0x00 <seq>      owner index: every collection or object event of
//	                          a collection owned by owner (a move: both ends'
//	                          owners), for the feed of one user
//	d <group>                 group record (name, displayname, members)
//	j <user>                  the groups user is a member of (sorted)
//	r <id>                    the grants on collection id (grantee, access,
//	                          auto-accept)
//	s <principal>             the collections granted to a user or group
//	e <user> 0x00 <id>        share: what user holds of collection id
//	                          (effective access, reply, mount, own props)
//	n <user> 0x00 <name>      mount name in user's home -> collection id
//	f <user>                  user's home collection id
//	x <delegator>             the delegator's delegates (grantee, access)
//	v <delegate>              the delegators of a user or group (sorted)
//	y <token sha256>          public link: collection id, free-busy only
//	z <id>                    the token hashes of collection id's links
//	P r <id>                  push registration (push.go): user, collection,
//	                          subscription, triggers, expiry
//	P c <id>, P u <user>      the push registration ids of a collection, a user
//	P k                       the VAPID public key of the last rotation
//	W <webhook id>            a webhook as it is (eventv1.Webhook): URL,
//	                          owner, filters, paused; its cursor is the
//	                          meta record cursor/webhook:<id>
//	M <address>               a user's email address (domain lower-case)
//	                          -> the user's name
//	U <user>                  what a directory (LDAP) said of a user who
//	                          signed in through it: display name, emails
//	T <id> <level> <bucket> <name>
//	                          time index (timeindex.go): an object's
//	                          envelope, by the bucket it starts in
//	R <job seq> <index>       an item of a restore's reschedule job not yet
//	                          done (reschedule.go): path, name, owner
//
// Everything but L and m is a projection that Rebuild derives again from
// the log.
//
// An object's body is stored once, byte for byte, in the log record of the
// put (or move or copy) that wrote it; the object record's body_seq names
// that record. Writing it a second time as a projection doubled what every
// put wrote and what compactions rewrote. Compact keeps the bodies of live
// versions, and purge deletes an object before it erases its bodies.
//
// The log sorts before every other family. A memtable flush holds the
// newest log records and projections; with the log in the middle of the
// projections (its old prefix 'l'), every flushed table spanned the whole
// log, and compactions rewrote the log's tables again and again. Open moves
// the log of a database written that way (migrate.go).
//
// The projection layout has a version in m"projections"; Open rebuilds the
// projections of a database written with another one.
//
// A rebuild does not commit its records through the memtable. A reader
// goroutine decodes the log a batch ahead of apply, which reads and writes
// through a loader (package engine/internal/replay) rather than the
// writer's transaction buffer (txbuf.go); apply's records collect in
// memory while a sorter goroutine sorts them by family; at the end (or
// every replay.RunBudget bytes) they are merged into sorted sstables, one
// family per table, and ingested (replay's runs.go, sorter.go). Open, before
// any reader exists, first excises the old projections, so the ingested
// tables land in the empty bottom level and nothing compacts them again.
// A rebuild of an open database deletes the old projections with range
// deletions instead, since an excise would also empty the snapshots that
// readers' views hold.
//
// Collection ids are the sequence number of the event that created them,
// so a path deleted and created again names a new collection, and its old
// sync tokens are invalid.
//
// # Disk full
//
// Pebble does not survive a failed write of its write-ahead log or
// MANIFEST (a panic or a Fatalf, by design; a failed fsync is never
// retried), so the engine keeps the disk from filling under it
// (space.go): the writer refuses a group with ErrNoSpace, before Pebble
// sees it, when committing it would leave less than Options.MinFreeSpace
// free; a reserve file (a memtable and 3 MiB, at most
// Options.ReserveSize) is released through vfs.OnDiskFull when a write of
// Pebble's other than a compaction's meets ENOSPC anyway, so that write
// lands; write-ahead logs are preallocated and zeroed ahead, so
// their fsyncs need no new blocks. Refused writes cost a statfs, never a
// wait; reads go on. A probe lets writes in again once MinFreeSpace and
// the reserve fit: no restart. A refused group writes nothing, so the log
// and the projections stay consistent and nothing acknowledged is lost.
// Open on a full disk releases the reserve for what Pebble writes as it
// opens, and opens read-only (reads served, writes refused until a
// restart) when even that does not fit.
//
// # Damaged files
//
// Pebble checksums every block. A block that fails its checksum fails the
// read that needs it; the engine's DataCorruption listener logs the file
// and its key range once and lets every other read be served (Pebble's
// default listener exited the process). Verify reads every log and
// projection record and reports a *CorruptionError: the log records that
// cannot be read (found by probing past each damaged block), the
// projection families, the files, and what to do. Projections come from
// the log, so Open with Options.Rebuild (`almanac rebuild` on a stopped
// server) recovers damaged projections: it excises their tables without
// reading them and replays the log. Log records, and the bodies stored in
// them, exist nowhere else: a damaged one is lost unless a backup has it.
// A damaged write-ahead log makes Open fail; openError names the log and
// the offset, and truncating the log there keeps what came before. (When
// the damage is in the last 32 KiB block of the newest log, Pebble takes
// it for a torn write and drops that tail without a word.)
//
// # Sharing
//
// Groups, grants, replies and mounts are events like the rest; the
// projections above follow from them (share_apply.go), and Rebuild and
// Verify cover them.
//
//   - OpGroupSet carries a group's full record; OpGroupDeleted its name.
//     Groups and users share one namespace (PutGroup and PutUser refuse a
//     name the other holds); groups do not nest. Members need not be
//     users yet (file groups name them first). Deleting a user or a group
//     withdraws the grants and delegations made to it: the deletion's
//     command first appends an OpShareRevoked or OpProxySet (none) for
//     each, by the same actor (share_vanish.go).
//   - OpShareGranted gives a collection directly in its owner's home to a
//     user or a group at AccessFreeBusy, AccessRead or AccessReadWrite; a
//     new grant to the same grantee replaces the old. OpShareRevoked
//     withdraws it. Grants are kept by collection id: a renamed
//     collection keeps them, a deleted one loses them (a collection
//     created again at the path inherits nothing), a deleted group takes
//     its grants with it.
//   - Every event that can change a user's effective access to a
//     collection (a grant, a revocation, a member joining or leaving, a
//     group or a collection deleted) recomputes that user's share record
//     e<user><id>: the highest access among the grants to the user and to
//     the user's groups. So resolution never looks at groups: Access is a
//     few point reads for a principal in any number of groups.
//   - A share that appears is accepted at once when a grant reaching the
//     user was made with AutoAccept (--share-auto-accept; recorded in the
//     grant, so it applies to later group members too), else it is pending
//     until OpShareReplied. A grant invites again: with AutoAccept it
//     accepts, without it a declined share becomes pending. Accepting
//     mounts the share in the user's home under a name the engine picks,
//     "<owner>-<collection>", made unique with "-2", "-3"... against the
//     user's mounts and the home's collections and objects (or the name
//     the reply asks for, when free). OpShareMountChanged renames a mount
//     or sets the sharee's own properties of it (displayname, color,
//     order, dead properties such as default alarms), never the owner's.
//     Declining, or losing every grant, removes the mount. A collection
//     cannot be created (or moved) over a mount.
//   - A mount arriving or leaving changes the sharee's home record (its
//     CTag) and is in the home's collection history; grants, revocations
//     and replies are in the shared collection's history (which restore
//     and as-of reads skip: they change no object).
//   - OpProxySet makes a user or a group a read or write delegate of a
//     user's whole home (Apple's calendar-proxy), or withdraws it. A
//     deleted group's delegations go with it.
//   - OpLinkCreated and OpLinkRevoked keep a collection's public links by
//     the SHA-256 of their token (the token itself is shown once and
//     stored nowhere); a deleted collection loses them, a renamed one
//     keeps them. View.Link(token) resolves one. A published link
//     (Publish, CS:publish-calendar) also carries a random id, and its
//     token is HMAC-SHA256 of the id under a key derived from the store
//     secret: the server shows it again, a reader of the log cannot.
//   - View.ReadableLog merges the owner index of a user, of the users they
//     are a delegate of, and the history of every collection shared with
//     them at AccessRead or more: the feed of one user.
//   - The shared collection keeps one identity: ETags, CTag and sync
//     tokens seen through a mount are the owner collection's.
//
// View.Access(user, path) is the one resolution function dav calls for
// every request: AccessOwner under a collection the user owns; through a
// mount (/<home>/<mount>/rest) the share's access with Target the owner's
// collection path + rest; on the owner's own URL of a collection shared
// with the user, the share's access; otherwise AccessNone, which dav
// answers with 404 exactly as for a missing path. Nothing is cached
// beyond a View, so a revocation takes effect on the next request.
//
// # Scheduling
//
// Implicit scheduling (RFC 6638, package dav/sched) writes, for one
// request, the organizer's or attendee's own object and for each local
// recipient the iTIP message in their schedule inbox (a KindInbox
// collection: METHOD required, UIDs not unique) and the calendar object
// it was processed into. WriteScheduled makes them one command of the
// writer: every write is checked first, then all are appended, so they
// commit in one batch — all or none, and a crash between the organizer's
// write and a delivery cannot happen. (A cursor over the log would have
// delivered after the write; the one batch needs no cursor and no
// idempotence.) The deliveries are ordinary OP_OBJECT_PUT and
// OP_OBJECT_DELETED events carrying Event.schedule (method, sender,
// recipient, SCHEDULE-STATUS), so history, restore, compaction and the
// feed treat them as any write; restore appends plain puts and sends
// nothing. Users' email addresses, the mailto: calendar user addresses,
// are indexed in 'M' (one user per address, compared case-insensitively
// on the domain).
//
// # Invariants
//
// Each one has a test:
//
//  1. Every acknowledged write survives kill -9 (TestCrashSafety) and
//     nothing is visible before it is durable (TestNothingVisibleBeforeFsync).
//  2. Rebuild, which drops the projections and replays the log through the
//     same apply function the writer uses, yields byte-identical
//     projections; Verify checks it (TestModel, TestCrashSafety).
//  3. Changes from a sync token reads only the change index from that token
//     on: O(changes), never a scan of the collection (TestChanges,
//     TestChangesReadsOnlyChanges counting block lookups,
//     BenchmarkChanges).
//  4. A collection's CTag and sync token change if and only if the
//     collection changed (TestCTagChangesIffCollectionChanges, TestModel).
//  5. Normal operation never rewrites the log: undo and restore append new
//     events. Only the operator's explicit compact (dropping bodies of
//     superseded versions) and purge (erasure) rewrite log records, and they
//     record that they did.
//
// Sync tokens are URIs carrying the store id, the collection id and a
// sequence number. A token of another store or collection, or from the
// future, is ErrInvalidToken; one older than the collection's tombstone
// horizon is ErrTokenExpired. Both mean DAV:valid-sync-token to clients.
package engine

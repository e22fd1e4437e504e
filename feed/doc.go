// Package feed streams Almanac's event log to subscribers: the gRPC
// service almanac.feed.v1.ChangeFeedService (Server) and the NATS
// JetStream outbox (Publisher).
//
// # Cursors, not pushes
//
// Every consumer keeps a cursor, a sequence number, and reads the durable
// log from it through engine views; engine.DB.Wait tells it when the head
// moves. The engine's writer never waits for a consumer, and nothing a
// consumer receives can vanish after a crash, because the engine only
// exposes events once they are synced.
//
// Subscribe reads the log in chunks of readChunk events up to a view's
// head, then waits for the head to pass exactly that seq and reads from
// the next one: history and live changes meet with no gap and no
// duplicate. A reader goroutine fills a bounded queue (Options.SendBuffer)
// and a sender goroutine writes batches from it to the stream. While a
// subscriber replays history the reader waits for room; once it is live,
// a full queue while the head runs more than Options.MaxLag events ahead
// of what the client took cuts it off with RESOURCE_EXHAUSTED. It then
// resubscribes with from_seq = the last seq it received + 1.
//
// # Who sees what
//
// Account events (OpUserSet, OpUserDeleted) carry password and token
// hashes: they are never streamed, published or returned. A user sees the
// changes of collections they own (for a move, either end) and the
// emails (iMIP) sent for them; role admin sees all; a user's Subscribe reads engine.View.ReadableLog (the owner
// index of the user and of the users they are a delegate of, and the
// history of each collection shared with them at read or more, as the
// view at each read says) instead of the whole log, and of the sharing
// events of others' collections only those naming the user. GetEvent and
// History follow the same rules (engine.View.Readable: a point lookup in
// the same indexes per event); History takes the owner's path of a shared
// collection. Object events carry no owner, so the owner and kind of each
// collection are looked up once by id and cached (both are fixed at
// creation). Callers authenticate with "authorization: Basic …" (checked by
// a PasswordVerifier, dav/auth in the server) or "Bearer <id>.<secret>",
// an API token whose secret's SHA-256 is stored in engine.User.Tokens
// (NewToken). Health checks and reflection need no credentials.
//
// # NATS
//
// The Publisher publishes each change with header Nats-Msg-Id = seq,
// without waiting for the acknowledgements of earlier ones: at most
// PublisherOptions.MaxInFlight are unacknowledged. A second goroutine
// takes the acknowledgements in seq order and advances the cursor (the
// last seq JetStream acknowledged, with all before it) over the
// acknowledged prefix. After any failure (NATS down, a rejected publish,
// an ack timeout) the session ends and the next one starts over.
//
// A session starts after the last change the stream stores, not after the
// cursor (session.resume): it reads the stream's last message and, when
// that is someone else's, up to 64 before it, and takes the first one
// that carries the publisher's SigHeader; its Nats-Msg-Id names the
// change. The session continues after that change, moves the cursor to it
// (forward when a crash lost the last cursor saves, back when the broker
// lost acknowledged messages), and expects the stream's last sequence and
// message ID from its first publish on. A stream that holds no message
// (new, purged, an interest stream without consumers) has nothing to
// repeat: the session continues after the cursor, expecting the stream's
// last sequence. Only when the search meets a missing message (deleted by
// an operator or a purge's erasure, consumed from an interest or
// workqueue stream) or finds only others' messages does the session start
// after the cursor without expectations, publishing synchronously until
// the broker stores a change rather than dropping it as a duplicate.
//
// The stream holds the log in order, each change once:
//
//   - the connection has no reconnect buffer (nats.ReconnectBufSize(-1),
//     checked by NewPublisher), so nothing published before or during a
//     reconnect reaches the broker behind what the next session sends;
//   - every publish a session makes once it knows the stream's tail
//     carries Nats-Expected-Last-Sequence and Nats-Expected-Last-Msg-Id,
//     the stream sequence and the message ID it must follow, so when the
//     broker drops or rejects one change of a window (a stream limit, a
//     leader change) it rejects all later ones too instead of storing them
//     ahead of it; the stored changes of a failed session are a prefix of
//     what it sent, and the next session finds the last of them. The
//     sequence alone is not enough when something else publishes to the
//     stream: a foreign message can take the place of a rejected change,
//     and the next one would match. nats-server checks the message ID only
//     on streams that are not clustered, so a clustered stream must have
//     no other publisher. nats.go's retry of "no responders" publishes,
//     which would re-send one change behind later ones, is off;
//   - a publish of a failed session that reaches the broker late (after
//     the next session read the tail) expects the sequence it was sent
//     with: either it is stored and the next session's publish of the
//     same change is refused for a moved tail, or it is refused itself.
//     Either way the change is stored once. A refusal for a moved tail
//     starts the next session at once when this one stored a change,
//     otherwise after RetryWait (so another publisher cannot keep it
//     spinning);
//   - two publishers (a cluster node taking publishing over from another)
//     both expect the tail they found: only one of them extends it.
//
// The cursor is an engine cursor (engine.DB.SetCursor, a synced write).
// Run stores it from its own goroutine, never on the publish path: about
// once a second while it moves, whenever it is 4096 seqs ahead of the
// stored one, and when Run returns. A crash loses at most those last
// advances, and the next session finds them in the stream.
//
// So the stream's duplicate window (StreamConfig.Duplicates) no longer
// carries the publisher's correctness, and it costs the broker ~100 bytes
// of memory per message published within it (80 MiB at a million objects
// with the 10 minutes of earlier versions, right after the publisher
// caught up with an import). A limits stream the publisher creates gets
// DefaultDuplicates, 1 second: the broker keeps the IDs of at most one
// second of publishing. What the window still covers is the fallback
// above, a session that starts after its cursor without expectations: the
// changes between the stored cursor and the last one stored are stored
// again unless they come within the window. On a limits stream that takes
// a message deleted from the tail between a crash and the next start (a
// purge's erasure whose own change was not yet published, an operator's
// delete) or more than 64 foreign messages at the tail. Interest and
// workqueue streams, whose consumers remove the tail, keep
// DefaultDuplicatesConsumed (10 minutes) and with it the earlier bound: a
// change re-sent longer than the window after the broker stored it is
// stored a second time. A limits stream that has the old 10-minute window
// is updated to the configured one when the publisher may (the embedded
// server's publisher user may); a window set otherwise is left alone.
//
// A data directory restored from a backup has a new store secret, so its
// publisher signs with a new key and does not take the stream's messages
// for its own: it publishes after the backup's cursor without
// expectations, as the README's "Backup and restore" describes.
//
// Subjects are described at Subject and EscapeToken; the payload is a
// binary or protojson feedv1.Change.
//
// The package never imports dav or pebble.
package feed

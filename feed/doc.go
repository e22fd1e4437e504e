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
// The Publisher reads the log from its cursor (the last seq JetStream
// acknowledged, with all before it) and publishes each change with header
// Nats-Msg-Id = seq, without waiting for the acknowledgements of earlier
// ones: at most PublisherOptions.MaxInFlight are unacknowledged. A second
// goroutine takes the acknowledgements in seq order and advances the
// cursor over the acknowledged prefix. After any failure (NATS down, a
// rejected publish, an ack timeout) the session ends and the next one
// starts over from the cursor.
//
// The stream holds the log in order, each change once:
//
//   - the connection has no reconnect buffer (nats.ReconnectBufSize(-1),
//     checked by NewPublisher), so nothing published before or during a
//     reconnect reaches the broker behind what the next session re-sends;
//   - every publish after the first one a session got stored carries
//     Nats-Expected-Last-Sequence and Nats-Expected-Last-Msg-Id, the stream
//     sequence and the seq of the change before it, so when the broker
//     drops or rejects one change of a window (a stream limit, a leader
//     change) it rejects all later ones too instead of storing them ahead
//     of it. The sequence alone is not enough when something else
//     publishes to the stream: a foreign message can take the place of a
//     rejected change, and the next one would match. nats-server checks
//     the message ID only on streams that are not clustered, so a
//     clustered stream must have no other publisher. nats.go's retry of
//     "no responders" publishes, which would re-send one change behind
//     later ones, is off. A rejection for a moved tail (another publisher)
//     starts the next session at once, without RetryWait;
//   - a session publishes synchronously until the broker stores a change
//     rather than dropping it as a duplicate: the changes after the cursor
//     may already be in the stream (a failed session's unacknowledged
//     publishes). The stored one's stream sequence starts the expectations.
//
// The cursor is an engine cursor (engine.DB.SetCursor, a synced write).
// Run stores it from its own goroutine, never on the publish path: about
// once a second while it moves, whenever it is 4096 seqs ahead of the
// stored one, and when Run returns. A crash loses at most those last
// advances: the next run re-sends the changes after the stored cursor, and
// the broker drops them as duplicates by Nats-Msg-Id.
//
// That, like the re-sending after a failed session, relies on the stream's
// duplicate window (StreamConfig.Duplicates, default 10 minutes): a change
// re-sent longer than that after the broker stored it (a restart after a
// long crash, or a NATS outage longer than the window that began while it
// was unacknowledged) is stored a second time.
//
// Subjects are described at Subject and EscapeToken; the payload is a
// binary or protojson feedv1.Change.
//
// The package never imports dav or pebble.
package feed

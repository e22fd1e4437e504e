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
// changes of collections they own (for a move, either end); role admin
// sees all. Object events carry no owner, so the owner and kind of each
// collection are looked up once by id and cached (both are fixed at
// creation). Callers authenticate with "authorization: Basic …" (checked by
// a PasswordVerifier, dav/auth in the server) or "Bearer <id>.<secret>",
// an API token whose secret's SHA-256 is stored in engine.User.Tokens
// (NewToken). Health checks and reflection need no credentials.
//
// # NATS
//
// The Publisher reads the log from its cursor (the last seq JetStream
// acknowledged, with all before it; an engine cursor stored synced in
// Pebble beside the log), publishes each
// change asynchronously with at most PublisherOptions.MaxInFlight
// unacknowledged, header Nats-Msg-Id = seq, and advances the cursor only
// over the acknowledged prefix. After any failure (NATS down, ack
// timeout) it starts over from the cursor; the stream's duplicate window
// drops what was already stored. Subjects are described at Subject and
// EscapeToken; the payload is a binary or protojson feedv1.Change.
//
// The package never imports dav or pebble.
package feed

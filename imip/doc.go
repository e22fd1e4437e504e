// Package imip sends and receives scheduling messages by email (iMIP,
// RFC 6047) for calendar users who are not users of this server.
//
// Outgoing: package dav/sched appends an engine.OpIMIPQueued event in the
// same step as the scheduling write that causes it (an organizer's
// change for an attendee elsewhere, an attendee's reply to an organizer
// elsewhere). The log is the outbox: Sender reads it from its durable
// cursor (engine.IMIPCursor), composes each message (Compose: a
// multipart/alternative email with a text/plain part for people and a
// text/calendar; method=... part for their calendar program) and submits
// it over SMTP, retrying with backoff, and moves the cursor after each
// message the mail server accepted. A message is never lost (the cursor
// moves only after acceptance) and sent twice only when the process
// stops between the server's acceptance and the cursor's (synced) write;
// the duplicate has the same Message-ID, derived from the event's
// sequence number.
//
// Incoming: LMTP is a go-smtp backend for an LMTP (or SMTP) listener an
// MTA delivers the users' scheduling mail to. Each message is parsed with
// bounds (ParseMessage) and handed to a Receiver (cmd/almanac, through
// package dav: a REPLY is applied like a local attendee's after checking
// that the sender was invited; a REQUEST, ADD or CANCEL is delivered like
// a local organizer's after checking that the sender is its ORGANIZER).
package imip

// Package push delivers WebDAV-Push messages (draft-bitfire-webdav-push)
// over Web Push: a Sender follows the engine's log from a cursor, like
// the NATS publisher, and POSTs each registration of a changed collection
// a push-message (package dav/push writes it) with the collection's topic
// and new sync-token, encrypted per RFC 8291 (aes128gcm) and signed per
// RFC 8292 (VAPID, ES256) with github.com/SherClockHolmes/webpush-go.
//
// Delivery:
//   - object changes are content-updates of their collection (both ends
//     of a move); collections created, deleted or moved are
//     content-updates of their parent (a home); PROPPATCH of a collection
//     is a property-update; a VAPID key rotation (OpPushKeyRotated) is a
//     property-update naming transports to every registration, signed
//     with the previous key;
//   - per registration, at most one message waits and one is in flight;
//     changes within MinInterval of the last message merge into one, which
//     carries the sync-token current when it is sent; the Topic header
//     lets the push service replace an undelivered one; TTL and Urgency
//     (high when the written object has an alarm and its time envelope
//     reaches into the next 24 hours) are set;
//   - a write whose Push-Dont-Notify named one of the writer's own
//     registrations (or "*": all of them) is not sent to those;
//   - 404/410 removes the registration (an OpPushUnregistered event);
//     429, 5xx and network errors back off (1 s doubling to 10 min,
//     Retry-After honoured); expired registrations are never sent to and
//     are purged every SweepInterval; a user who lost read access to the
//     collection is no longer sent to;
//   - the cursor passes a change only once all its messages were delivered
//     or given up, so after a restart every registration still gets the
//     latest token;
//   - POSTs are bounded (Concurrency, Timeout), never follow redirects,
//     and by default go only over https to public addresses (SSRF).
//
// The VAPID key pair lives in the data directory (Keys: push/vapid.json,
// mode 0600), made on first start; RotateKeys replaces it.
package push

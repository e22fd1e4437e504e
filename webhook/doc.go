// Package webhook delivers the change log to HTTP receivers: each webhook
// (engine.Webhook, made by an event) gets the changes its owner may read,
// narrowed by its filters, one POST per change, as the protojson form of
// almanac.feed.v1.Change signed per the Standard Webhooks scheme
// (https://www.standardwebhooks.com):
//
//	webhook-id:        the change's seq (decimal), the same on every retry
//	webhook-timestamp: the attempt's Unix time in seconds
//	webhook-signature: "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body))
//
// where key is the webhook's secret, shown once at creation as "whsec_" +
// base64(key) (FormatSecret).
//
// # Delivery
//
// One goroutine per active webhook reads the log from the webhook's
// engine cursor (engine.WebhookCursor) through views, in chunks, and
// POSTs the matching changes one at a time, in log order. A change is done
// when the receiver answers 2xx; the cursor then passes it (stored every
// SaveEvery changes, every SaveInterval and whenever the loop catches up
// or stops), so delivery is at least once: after a crash a receiver may
// see a few changes again, with the same webhook-id, and must drop them by
// it. Any other answer, a timeout or a refused connection is retried with
// exponential backoff and full jitter (MinBackoff doubling to MaxBackoff);
// a webhook failing for MaxOutage is paused (an event, a log line, a
// metric, and the reason in `webhook list`) and nothing more is sent until
// it is resumed, from its cursor: nothing is skipped.
//
// # Who sees what
//
// A user's webhook reads engine.View.ReadableLog (their collections, the
// collections shared with them at read or more, the homes they are a
// delegate of) as each chunk's view says: a revoked share stops the
// shared collection's changes. An administrator's webhook (no owner)
// reads the whole log. Account and webhook events are never sent
// (change.Exposed).
//
// # Bounds
//
// Each attempt has a Timeout; redirects are not followed; at most
// MaxResponse bytes of an answer are read; bodies over MaxBody are left
// out (BodyOmitted). A user's webhook never connects to a loopback,
// private, link-local, CGNAT, multicast or unspecified address unless
// AllowPrivate is set: the address is checked at every dial, after DNS,
// so a name that later resolves inside the network is refused too. An
// administrator's webhook may reach any address.
package webhook

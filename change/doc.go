// Package change turns engine log events into almanac.feed.v1.Change
// messages (Converter) and selects the ones a consumer receives (Filter).
// The gRPC feed, the NATS publisher (package feed) and webhooks (package
// webhook) share it: adapters never import each other.
//
// Account events carry password and token hashes and webhook events their
// URLs: they are never converted (Exposed). The delivery of an iTIP
// message into a schedule inbox (a put with a Schedule) becomes
// OP_SCHEDULE_REQUEST, _REPLY, _CANCEL or _ADD, so that a subscriber
// sees invitations as such; every scheduling write carries its Schedule.
package change

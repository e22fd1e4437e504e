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
// An email queued or given up on (iMIP: engine.OpIMIPQueued, OpIMIPFailed)
// is OP_IMIP_QUEUED or OP_IMIP_FAILED with no collection: its principal is
// the user it is sent for, its schedule who sends what to whom.
package change

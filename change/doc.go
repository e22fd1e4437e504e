// Package change turns engine log events into almanac.feed.v1.Change
// messages (Converter) and selects the ones a consumer receives (Filter).
// The gRPC feed, the NATS publisher (package feed) and webhooks (package
// webhook) share it: adapters never import each other.
//
// Account events carry password and token hashes and webhook events their
// URLs: they are never converted (Exposed).
package change

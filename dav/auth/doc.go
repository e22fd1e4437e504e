// Package auth verifies the passwords DAV clients send with HTTP Basic
// authentication (RFC 7617).
//
// A Verifier checks accounts of the engine first (bcrypt or argon2id hashes
// set with `almanac user add`) and then, when configured, an Apache htpasswd
// file (bcrypt, apr1/MD5, {SHA}, {SSHA}, crypt SHA-256/512; never plain
// text: an entry in an unknown format matches no password). The file is
// reread whenever it changes on disk.
//
// Clients send credentials with every request and bcrypt costs tens of
// milliseconds, so successful verifications are cached in memory for a short
// TTL. The cache key is an HMAC, under a per-process random key, of the user
// name, the password and the stored hash: changing a password or removing a
// user takes effect on the next request.
//
// Failed attempts are counted per (user, remote address) pair and per
// address (ratelimit.go has the rules and why). Past a pair's limit,
// Authenticate returns a *RateLimitError at once, without running a hash,
// and the lockout doubles with each repeat; an address's failures never
// refuse a pair that has not failed itself. Every failure is logged at
// WARN as `msg="authentication failed" remote=IP user=NAME` for fail2ban,
// within internal/logbound's budgets (20 lines a minute per address, 600
// in all, then a count of those left out).
//
// At most Options.MaxConcurrentHashes passwords are hashed at once
// (slots.go); a login waits for a slot at most HashWait, behind at most
// MaxHashWaiters others, then gets a *BusyError (503, no failed login).
// Identical concurrent logins share one verification.
package auth

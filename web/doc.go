// Package web is Almanac's web app: a place in the browser where people
// manage what the server holds for them, served under "/" on serve's
// --listen address beside the DAV handler, which keeps /dav/,
// /.well-known/, /pub/ and every non-GET request of "/".
//
// Pages (html/template, assets embedded in the binary, no JavaScript, one
// column on a phone):
//
//	/login, /logout            sign in with the account's password (the DAV login limiter)
//	/calendars                 calendars and address books: color, items, size, the URLs for
//	                           clients; create, rename, recolor, delete, import, export;
//	                           recently deleted ones, restorable
//	/history?c=NAME[&o=OBJ]    a collection's or an object's timeline: who, when, which
//	                           client, a property-level diff; restore a version, undelete,
//	                           restore the collection as of a time (dry run first)
//	/agenda                    the next 30 days of every calendar, recurrences expanded by
//	                           the server's own code (engine/recur)
//	/sharing?c=NAME            who a collection is shared with (grant, revoke) and its
//	                           public links (create: the URL shown once; revoke)
//	/devices                   app passwords: create (shown once), last use, revoke
//	/manage/users, /manage/status   administration, for role admin
//
// Sessions are kept in memory (Options.MaxSessions, idle and absolute
// expiry; a restart signs everyone out): the cookie holds a random 256-bit
// id, HttpOnly, SameSite=Lax, Secure under TLS; the store keys sessions by
// the id's SHA-256. Signing in always makes a new session (no fixation).
// Every form carries a CSRF token: the session's, or for the sign-in form
// a double-submit cookie. Every page of a collection is addressed by its
// name inside the signed-in user's own home, so another user's data is
// never reachable (404 alike for missing and foreign names).
package web

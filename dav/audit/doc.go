// Package audit is Almanac's audit trail over HTTP and for the CLI: the
// history of objects, collections and users, restore as of a moment,
// undelete, export and import of whole collections, retention (compact)
// and GDPR purge.
//
// User serves the ?history and ?restore queries of dav.Options.Audit for a
// user's own data; Admin serves the admin API under /admin/ for role admin;
// Local runs the same operations on an open engine (the CLI's --data mode)
// and Client through the admin API (the CLI's --server mode). Export and
// import splice raw iCalendar and vCard lines and never re-serialize.
package audit

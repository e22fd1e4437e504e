// Package dav is Almanac's WebDAV, CalDAV and CardDAV protocol layer: an
// http.Handler that authenticates requests, parses XML bodies, maps every
// method onto the engine's Go API and streams multistatus answers.
//
// URL space: /.well-known/caldav and /.well-known/carddav redirect to
// /dav/; the principal of user U is /dav/principals/U/; U's home,
// /dav/home/U/, is both calendar-home-set and addressbook-home-set and holds
// the default calendar (calendar/) and address book (contacts/), created on
// U's first authenticated request. Every authenticated user reads every
// principal, users and groups (PROPFIND Depth 1 on /dav/principals/ lists
// them, principals.go), and each user's calendar-proxy-read/-write
// sub-principals (proxy.go). Every request under /dav/home/ is resolved
// through engine.View.Access (access.go): the user's own home, the
// collections shared with them (at the owner's URL and at their mount in
// their home) and the homes they are a delegate of; everything else
// answers 404, and a method the access does not allow 403
// DAV:need-privileges. OPTIONS is answered without
// credentials, the same for every path under /dav/; a login refused by
// the limiter gets 429 with Retry-After.
//
// Errors: handlers return errors, and MapError (errors.go) is the one
// mapping from an error to its status and RFC condition, shared with
// dav/audit; 507 DAV:sufficient-disk-space for engine.ErrNoSpace.
//
// Supported:
//   - RFC 4918 WebDAV class 1: OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND
//     (Depth 0 and 1; infinity gets 403 DAV:propfind-finite-depth, and a
//     request without Depth, which means infinity, too, except on an
//     object, where it is answered as Depth 0 for clients that leave the
//     header out), PROPPATCH (atomic, 424 for the rest when one property
//     fails), MKCOL, COPY and MOVE of objects and of collections with
//     everything below them (COPY Depth 0 copies a collection alone with
//     its properties; Overwrite: T replaces objects and collections),
//     dead properties on collections and objects (kept across PUTs, moved
//     and copied with them). litmus basic, copymove, props and http pass.
//   - RFC 4791 CalDAV: MKCALENDAR, calendar collection properties,
//     calendar-multiget, calendar-query and free-busy-query (package
//     dav/query evaluates the filters, recurrence and time zones, and
//     shapes calendar-data with comp/prop selection, expand,
//     limit-recurrence-set and limit-freebusy-set, in calendar-query and
//     calendar-multiget alike; see query_reports.go and multiget.go), PUT
//     preconditions (valid-calendar-data, valid-calendar-object-resource,
//     supported-calendar-component, supported-calendar-data,
//     no-uid-conflict, max-resource-size), GET of a whole calendar as one
//     VCALENDAR.
//   - RFC 6352 CardDAV: address book properties, addressbook-multiget,
//     addressbook-query (dav/query, with limit), partial address-data and
//     vCard 3.0/4.0 conversion in both REPORTs, PUT preconditions, GET of
//     a whole address book.
//   - RFC 6578 sync-collection with DAV:limit (507 continuation) and
//     DAV:valid-sync-token.
//   - RFC 5397 current-user-principal; RFC 3744 access control
//     (privileges.go, principal_reports.go): current-user-privilege-set
//     from the user's access level, acl (readable by the owner),
//     acl-restrictions, supported-privilege-set, inherited-acl-set, owner,
//     principal-collection-set, principal-URL, alternate-URI-set,
//     group-membership; the reports principal-property-search,
//     principal-search-property-set, principal-match,
//     acl-principal-prop-set and CalendarServer's
//     calendarserver-principal-property-search; the ACL method answers 403
//     DAV:no-ace-conflict (acl.go). Sharing (post.go, sharing_props.go,
//     package dav/share): draft-pot-webdav-resource-sharing and
//     CalendarServer sharing with its notification collection
//     (notifications.go) and delegation (proxy.go); public links,
//     /pub/<token>.ics without credentials (public.go). RFC 5689 extended MKCOL; RFC 6764 well-known URLs;
//     RFC 3253 §3.8 expand-property; CalendarServer getctag and Apple
//     calendar-color and calendar-order; RFC 4331 quota-used-bytes on
//     collections (see quota.go).
//   - gzip of multistatus answers and collection exports, negotiated by
//     Accept-Encoding with its q-values (RFC 9110 §12.5.3, encoding.go).
//
// Multistatus answers stream: one DAV:response at a time from the
// engine's iterators through davxml.Multistatus, with the property values
// of each response built in memory reused for the whole request (scratch
// in props.go), so a listing allocates nothing per member in this package.
//
// Not supported (yet):
//   - WebDAV class 2 (LOCK, UNLOCK); changing ACLs with the ACL method.
//   - Depth: infinity PROPFIND, sync-level infinite.
//   - quota-available-bytes (reported 404: there are no quotas).
//   - Mixed content in dead property values: the text beside child
//     elements is not kept.
//   - Scheduling (RFC 6638), Apple's CS:publish-calendar.
//
// WebDAV-Push (draft-bitfire-webdav-push) is webpush.go with package
// dav/push (its XML): discovery properties, registration by POST,
// Push-Dont-Notify; Options.Push (the push sender) delivers.
package dav

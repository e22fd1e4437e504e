// Package share reads and writes the XML of the collection sharing
// protocols Almanac speaks, mapping each onto one model: a list of
// sharees, each with an access (read, read-write, or none to remove them).
//
//   - draft-pot-webdav-resource-sharing (the WebDAV resource sharing
//     draft): POST of DAV:share-resource with DAV:sharee elements
//     (DAV:href, DAV:share-access with DAV:read, DAV:read-write or
//     DAV:no-access, DAV:comment), and the DAV:invite property.
//   - Apple's CalendarServer sharing (caldav-sharing): POST of CS:share
//     with CS:set (DAV:href, CS:common-name, CS:summary, CS:read or
//     CS:read-write) and CS:remove, POST of CS:invite-reply to the sharee's
//     home (CS:invite-accepted or CS:invite-declined, CS:hosturl), the
//     CS:invite property and CS:invite-notification resources.
//
// Parsing goes through davxml, so the bodies are bounded in depth, element
// and attribute count, and refuse DTDs; a request names at most
// MaxSharees sharees. Package dav resolves the hrefs to principals and
// applies the changes through the engine.
package share

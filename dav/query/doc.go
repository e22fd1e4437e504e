// Package query implements the CalDAV and CardDAV query REPORTs as a
// library: it parses their bodies, evaluates their filters against
// stored objects and shapes the data returned. Package dav finds the
// objects and streams the multistatus (dav/query_reports.go); the
// multiget REPORTs shape their data with the same parser and renderer
// (ParseCalendarData, ParseAddressData; dav/shape.go).
//
// Supported:
//
//   - CALDAV:calendar-query (RFC 4791 §7.8, §9.7): comp-filter,
//     prop-filter, param-filter, is-not-defined, text-match with
//     negate-condition and the collations i;octet, i;ascii-casemap and
//     i;unicode-casemap (RFC 5051, approximated by NFKD and Unicode case
//     folding), time-range on VEVENT, VTODO, VJOURNAL, VFREEBUSY and
//     VALARM (RFC 4791 §9.9, through engine/recur), CALDAV:timezone and
//     CALDAV:timezone-id (RFC 7809) for floating times.
//   - calendar-data shaping (RFC 4791 §9.6): comp/prop selection with
//     allprop, allcomp and novalue, expand, limit-recurrence-set and
//     limit-freebusy-set. Output is written from the original content
//     lines in their original order (go-ical's encoder reorders and does
//     not fold), folded at 75 octets; without shaping the stored body is
//     returned byte for byte.
//   - CALDAV:free-busy-query (RFC 4791 §7.10): busy time of opaque,
//     non-cancelled events (TENTATIVE as BUSY-TENTATIVE) and of VFREEBUSY
//     components, merged per FBTYPE, in UTC.
//   - CARDDAV:addressbook-query (RFC 6352 §8.6, §10.5): filter and
//     prop-filter test="anyof|allof", text-match match-types and
//     collations, param-filter, is-not-defined, CARDDAV:limit/nresults,
//     partial address-data, and vCard 3.0 ⇄ 4.0 conversion (VERSION,
//     ENCODING=b ⇄ data: URIs, TYPE=pref ⇄ PREF=1, LABEL ⇄ ADR;LABEL,
//     GEO, TEL URIs, 4.0-only properties as X- extensions).
//
// Errors are *Error values carrying the HTTP status and the RFC
// precondition element (CALDAV:valid-filter, CALDAV:supported-collation,
// CARDDAV:supported-filter, CALDAV:max-instances, …).
//
// Content is parsed with ParseContent, a small content-line parser that
// keeps order and raw values and never panics; its tree is converted to
// go-ical's model for engine/recur.
package query

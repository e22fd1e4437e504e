// Package contentline reads iCalendar (RFC 5545 §3.1) and vCard (RFC 6350
// §3.2) content lines: it unfolds CRLF or bare LF followed by a space or a
// tab, splits each line into group, name, parameters (quoted values
// unquoted; RFC 6868 decoding on request) and raw value, and follows the
// BEGIN/END structure, refusing what exceeds its Limits.
//
// It is the one reader of content lines in Almanac: the engine validates
// PUT bodies with it and builds go-ical's model from it, and dav reads
// stored bodies with it for queries, exports, imports and history diffs.
// go-ical and go-vcard have decoders of their own, but go-ical panics on
// some malformed parameters, recurses once per nested BEGIN without
// limit and builds parameter values a byte at a time (quadratic), and
// go-vcard unfolds by string concatenation (a 4 MB folded PHOTO took 74 s
// to read) and drops lines it cannot parse; neither has limits. This
// package keeps their data models and replaces only the line reader.
//
// A Scanner allocates nothing per line but for folded lines (which it
// copies once, unfolded) and the growth of its reused buffers: names,
// parameter values and values are substrings of the text it reads.
package contentline

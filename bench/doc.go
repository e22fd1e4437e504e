// Package bench is Almanac's load generator and peer comparison.
//
// It speaks plain HTTP CalDAV (RFC 4791), CardDAV (RFC 6352) and WebDAV
// sync (RFC 6578) with Basic auth to any server, so the same scenarios run
// unchanged against Almanac, Radicale and Xandikos and their figures are
// comparable. It imports nothing of the server.
//
// The pieces, top-down:
//   - Target describes one server: where its collections live and how to
//     create a fresh calendar (target.go, dav.go).
//   - Generator makes deterministic, realistic calendar objects and vCards,
//     and knows which events fall in the query month (gen.go, recur.go).
//   - Loader fills a collection with N objects, over HTTP or by writing
//     straight into a peer's storage (load.go).
//   - Each scenario is a Run function that returns Results, one JSON line
//     each (scenario_*.go, result.go).
//   - Server starts Radicale, Xandikos or Almanac on a free loopback port
//     with a fresh data directory (server.go); Compare drives them all in
//     one run and renders RESULTS.md and a chart (compare.go, report.go,
//     chart.go).
package bench

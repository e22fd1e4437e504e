// Package replay loads projections from a replay of the log: Loader is
// the read/write interface the engine's apply writes through when it
// derives the projections again (a rebuild, a verify's scratch replay),
// and Runs hands its writes to Pebble as sorted sstables that it ingests,
// instead of committing them through the memtable.
//
// A Loader assumes the projections it writes start empty, so it keeps the
// records apply reads back in memory and answers misses without reading
// Pebble. The writer's transactions use another implementation, the
// engine's txBuffer; apply knows neither, only the interface.
package replay

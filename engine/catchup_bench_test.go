package engine

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
)

// logOf returns a memLog holding db's log records, and db's identity.
func logOf(tb testing.TB, db *DB) *memLog {
	tb.Helper()
	l := newMemLog()
	l.id = append([]byte(db.storeID+"\x00"), db.secret...)
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{keys.Log}, UpperBound: []byte{keys.Log + 1}})
	if err != nil {
		tb.Fatal(err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		l.recs = append(l.recs, bytes.Clone(it.Value()))
	}
	if err := it.Error(); err != nil {
		tb.Fatal(err)
	}
	return l
}

// BenchmarkCatchUp measures a node that opens on an empty data directory
// and applies a shared log of 100,000 events held in memory: the
// engine's part of a new cluster node's catch-up, without NATS (see
// cmd/almanac's BenchmarkClusterCatchUp for the whole).
func BenchmarkCatchUp(b *testing.B) {
	asServed(b)
	src := filledDB(b, 100000)
	log := logOf(b, src)
	events := len(log.recs)
	var used int64
	for range b.N {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "node")
		b.StartTimer()
		start := cpuTime()
		db, err := Open(dir, &Options{Log: log})
		if err != nil {
			b.Fatal(err)
		}
		used += int64(cpuTime() - start)
		b.StopTimer()
		if db.Head() != Seq(events) {
			b.Fatalf("caught up to %d of %d", db.Head(), events)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(used)/1e3/float64(events*b.N), "cpu-µs/event")
}

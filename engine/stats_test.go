package engine

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// TestStats writes concurrently, flushes and compacts, and checks that
// Stats accounts for every event in the commit histograms and sees the
// log's tables, the flush and the compaction.
func TestStats(t *testing.T) {
	db := MustOpen(t)
	MustCalendar(t, db)
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := db.PutObject(ctx, alice, "/alice/cal/", fmt.Sprintf("%d.ics", i), event(fmt.Sprint(i)), PutOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Head != db.Head() || s.Head < n+2 {
		t.Errorf("Head = %d, want db.Head() = %d, at least %d", s.Head, db.Head(), n+2)
	}
	// Every event was committed by exactly one group.
	if got := uint64(s.CommitEvents.Sum); got != uint64(s.Head) {
		t.Errorf("CommitEvents.Sum = %d, want the head %d", got, s.Head)
	}
	if s.CommitEvents.Count == 0 || s.CommitEvents.Count != s.CommitSeconds.Count {
		t.Errorf("commits: %d event observations, %d latency observations", s.CommitEvents.Count, s.CommitSeconds.Count)
	}
	if last := s.CommitEvents.Buckets[len(s.CommitEvents.Buckets)-1]; last.Count != s.CommitEvents.Count {
		t.Errorf("the last bucket (<= %v) holds %d of %d commits", last.UpperBound, last.Count, s.CommitEvents.Count)
	}
	if s.CommitSeconds.Sum <= 0 {
		t.Errorf("CommitSeconds.Sum = %v, want > 0", s.CommitSeconds.Sum)
	}
	if s.LogBytes != 0 || s.Flushes != 0 {
		t.Errorf("before a flush: LogBytes %d, Flushes %d; want 0 (the log is in the memtable)", s.LogBytes, s.Flushes)
	}
	if s.WALBytes == 0 || s.DiskBytes < s.WALBytes {
		t.Errorf("WALBytes %d, DiskBytes %d; want 0 < WALBytes <= DiskBytes", s.WALBytes, s.DiskBytes)
	}
	if s.MemTableBytes == 0 || s.MemTables == 0 {
		t.Errorf("MemTableBytes %d in %d memtables, want > 0", s.MemTableBytes, s.MemTables)
	}

	if err := db.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	if s, err = db.Stats(); err != nil {
		t.Fatal(err)
	}
	if s.Flushes == 0 || s.L0Files == 0 || s.L0Sublevels == 0 {
		t.Errorf("after a flush: Flushes %d, L0Files %d, L0Sublevels %d; want > 0", s.Flushes, s.L0Files, s.L0Sublevels)
	}
	if s.LogBytes == 0 || s.DiskBytes <= s.LogBytes {
		t.Errorf("after a flush: LogBytes %d, DiskBytes %d; want 0 < LogBytes < DiskBytes", s.LogBytes, s.DiskBytes)
	}
	if err := db.pdb.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	if s, err = db.Stats(); err != nil {
		t.Fatal(err)
	}
	if s.Compactions == 0 || s.L0Files != 0 {
		t.Errorf("after a compaction: Compactions %d, L0Files %d; want > 0 and 0", s.Compactions, s.L0Files)
	}
	if _, err := db.Object("/alice/cal/", "1.ics", true); err != nil { // read from a table, through the block cache
		t.Fatal(err)
	}
	if s, err = db.Stats(); err != nil {
		t.Fatal(err)
	}
	if s.BlockCacheHits+s.BlockCacheMisses == 0 {
		t.Error("a read after the compaction touched no block cache")
	}

	db.Close()
	if _, err := db.Stats(); err != ErrClosed {
		t.Errorf("Stats after Close: %v, want ErrClosed", err)
	}
}

func TestHistogram(t *testing.T) {
	h := newHistogram([]float64{1, 10})
	for _, v := range []float64{0.5, 1, 2, 10, 11, 100} {
		h.observe(v)
	}
	got := h.snapshot()
	want := Histogram{Buckets: []Bucket{{1, 2}, {10, 4}}, Count: 6, Sum: 124.5}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("snapshot = %v, want %v", got, want)
	}
}

// TestWriteStalls drives the listener Open installs: a stall counts once
// however often Pebble reports its beginning, and its time counts while it
// lasts.
func TestWriteStalls(t *testing.T) {
	s := newWriterStats()
	l := &pebble.EventListener{}
	s.listen(l)
	t0 := time.Now()
	l.WriteStallBegin(pebble.WriteStallBeginInfo{Reason: "memtable count limit reached"})
	l.WriteStallBegin(pebble.WriteStallBeginInfo{Reason: "L0 file count limit exceeded"})
	if n, d := s.stalls.read(t0.Add(time.Hour)); n != 1 || d < 59*time.Minute {
		t.Errorf("during a stall: %d stalls, %s; want 1 and about an hour", n, d)
	}
	l.WriteStallEnd()
	l.WriteStallEnd()
	n, d := s.stalls.read(time.Now().Add(time.Hour))
	if n != 1 || d <= 0 || d > time.Minute {
		t.Errorf("after a stall: %d stalls, %s; want 1 and the stall's short time", n, d)
	}
	s.stalls.begin(t0)
	s.stalls.end(t0.Add(3 * time.Second))
	if n, d2 := s.stalls.read(time.Now()); n != 2 || d2-d != 3*time.Second {
		t.Errorf("after a second stall of 3s: %d stalls, %s more; want 2 and 3s", n, d2-d)
	}
}

// BenchmarkStats measures what a scrape of the engine's metrics costs:
// Pebble's metrics, the log's size estimate and the histograms, over a
// database with 1,000 objects in tables.
func BenchmarkStats(b *testing.B) {
	db := MustOpen(b)
	MustCalendar(b, db)
	for i := range 1000 {
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", fmt.Sprintf("%d.ics", i), event(fmt.Sprint(i)), PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.pdb.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.Stats(); err != nil {
			b.Fatal(err)
		}
	}
}

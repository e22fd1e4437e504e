package engine

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
)

// Stats is a summary of the database's storage and its writer for
// monitoring. Reading it does no I/O: Pebble's counters, an estimate of the
// log's size from its table metadata, and the writer's histograms.
type Stats struct {
	// Head is the sequence number of the last durable event.
	Head Seq
	// LogBytes estimates the bytes the log's tables take on disk (the
	// events not yet flushed from the memtable are not counted).
	LogBytes uint64
	// DiskBytes is what the database takes on disk: tables, the WAL,
	// obsolete files not yet deleted, the manifest.
	DiskBytes uint64
	// WALBytes is the size of the WAL files: the data written to them, or
	// their physical size where recycled files are larger.
	WALBytes uint64

	// Compactions is how many compactions ran since Open; CompactionsRunning
	// how many run now; CompactionDebt estimates the bytes still to compact
	// for the tree to be in shape.
	Compactions        int64
	CompactionsRunning int64
	CompactionDebt     uint64
	// Flushes is how many memtables were flushed to L0 since Open.
	Flushes int64
	// L0Files and L0Sublevels are the files in level 0 and its sublevels
	// (read amplification); both growing means compactions lag.
	L0Files     int64
	L0Sublevels int32
	// MemTableBytes and MemTables are the memtables' allocated bytes and
	// count (zombie memtables, kept for open readers, not included).
	MemTableBytes uint64
	MemTables     int64
	// BlockCacheBytes is the block cache's size in use; BlockCacheHits and
	// BlockCacheMisses count block lookups since Open.
	BlockCacheBytes  int64
	BlockCacheHits   int64
	BlockCacheMisses int64

	// WriteStalls counts the times Pebble delayed writes (too many
	// memtables or L0 files) since Open; WriteStallTime is their total
	// length, including the one going on.
	WriteStalls    int64
	WriteStallTime time.Duration

	// CommitEvents is a histogram of the events each group commit wrote.
	CommitEvents Histogram
	// CommitSeconds is a histogram of how long group commits took from
	// applying their batch to its fsync completing, in seconds.
	CommitSeconds Histogram

	// LogConflicts counts the appends to a shared log (Options.Log) that
	// another node won since Open: each made the writer catch up and run
	// its group again.
	LogConflicts int64
	// LogRetries counts the attempts to append to a shared log that
	// failed without an answer (a timeout, a stream leader that died)
	// and were tried again since Open.
	LogRetries int64
	// LogHead is the shared log's last sequence number when the node last
	// looked (every second; 0 without a shared log): Head behind it is
	// the node's lag. LogError is why the last look failed, "" when it
	// reached the log: a node that cannot reach a quorum refuses writes
	// (ErrUnavailable) and serves reads from what it has.
	LogHead  Seq
	LogError string
	// AppendSeconds is a histogram of how long appends to the shared log
	// took (a quorum's fsyncs), in seconds.
	AppendSeconds Histogram
}

// Histogram is a snapshot of a fixed-bucket histogram.
type Histogram struct {
	// Buckets are cumulative: Buckets[i].Count observations were at most
	// Buckets[i].UpperBound. The +Inf bucket is Count.
	Buckets []Bucket
	// Count and Sum are the number and the sum of all observations.
	Count uint64
	Sum   float64
}

// Bucket is one cumulative bucket of a Histogram.
type Bucket struct {
	UpperBound float64
	Count      uint64
}

// Stats returns the database's current statistics, or ErrClosed.
func (db *DB) Stats() (Stats, error) {
	v, err := db.acquire()
	if err != nil {
		return Stats{}, err
	}
	defer v.release()
	m := db.pdb.Metrics()
	logBytes, err := db.pdb.EstimateDiskUsage([]byte{keys.Log}, []byte{keys.Log + 1})
	if err != nil {
		return Stats{}, fmt.Errorf("engine: log size: %w", err)
	}
	s := Stats{
		LogConflicts: db.logConflicts.Load(),
		Head:         v.head,
		LogBytes:     logBytes,
		// Pebble counts the current WAL's size as it was when opened (0
		// for a new file) in PhysicalSize; what was written since is in
		// Size.
		WALBytes:           max(m.WAL.Size, m.WAL.PhysicalSize),
		DiskBytes:          m.DiskSpaceUsage() - m.WAL.PhysicalSize + max(m.WAL.Size, m.WAL.PhysicalSize),
		Compactions:        m.Compact.Count,
		CompactionsRunning: m.Compact.NumInProgress,
		CompactionDebt:     m.Compact.EstimatedDebt,
		Flushes:            m.Flush.Count,
		L0Files:            m.Levels[0].TablesCount,
		L0Sublevels:        m.Levels[0].Sublevels,
		MemTableBytes:      m.MemTable.Size,
		MemTables:          m.MemTable.Count,
		BlockCacheBytes:    m.BlockCache.Size,
		BlockCacheHits:     m.BlockCache.Hits,
		BlockCacheMisses:   m.BlockCache.Misses,
		CommitEvents:       db.stats.commitEvents.snapshot(),
		CommitSeconds:      db.stats.commitSeconds.snapshot(),
	}
	s.WriteStalls, s.WriteStallTime = db.stats.stalls.read(time.Now())
	db.shared.stats(&s)
	return s, nil
}

// writerStats are the writer's and Pebble's event counters behind Stats.
type writerStats struct {
	commitEvents  *histogram
	commitSeconds *histogram
	stalls        stallClock
}

func newWriterStats() writerStats {
	return writerStats{
		// Up to MaxBatch commands, some of several events each.
		commitEvents: newHistogram([]float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048}),
		// From a RAM disk's 50µs to a failing disk's 10s.
		commitSeconds: newHistogram([]float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}),
	}
}

// listen adds the write stall callbacks to l.
func (s *writerStats) listen(l *pebble.EventListener) {
	l.WriteStallBegin = func(pebble.WriteStallBeginInfo) { s.stalls.begin(time.Now()) }
	l.WriteStallEnd = func() { s.stalls.end(time.Now()) }
}

// histogram counts observations into fixed buckets with atomics: the
// writer observes, scrapes read, and neither waits for the other.
type histogram struct {
	bounds []float64
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	count  atomic.Uint64
	sum    atomic.Uint64 // float64 bits
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
	h.count.Add(1)
}

// snapshot returns the cumulative buckets. Observations racing with it
// may show in some buckets and not yet in Count.
func (h *histogram) snapshot() Histogram {
	out := Histogram{Buckets: make([]Bucket, len(h.bounds))}
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i].Load()
		out.Buckets[i] = Bucket{UpperBound: b, Count: cum}
	}
	out.Count = max(h.count.Load(), cum)
	out.Sum = math.Float64frombits(h.sum.Load())
	return out
}

// stallClock counts Pebble's write stalls and their total time.
type stallClock struct {
	mu    sync.Mutex
	n     int64
	total time.Duration
	since time.Time // start of the stall going on; zero when none
}

func (c *stallClock) begin(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.since.IsZero() {
		c.n++
		c.since = now
	}
}

func (c *stallClock) end(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.since.IsZero() {
		c.total += now.Sub(c.since)
		c.since = time.Time{}
	}
}

// read returns the stalls so far and their time, counting the one going on
// up to now.
func (c *stallClock) read(now time.Time) (int64, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := c.total
	if !c.since.IsZero() {
		total += now.Sub(c.since)
	}
	return c.n, total
}

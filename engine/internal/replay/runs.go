package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// RunBudget bounds the bytes of records a replay collects before it
// ingests them as a run (a variable for tests).
var RunBudget = 128 << 20

// RunTableSize is the estimated size at which a run's table is cut (a
// variable for tests).
var RunTableSize uint64 = 64 << 20

// runWriteOverhead approximates what one collected write costs beyond its
// key and value: the write itself and the sorter's reference to it.
const runWriteOverhead = 72

// SortSpan is how many writes of one family the sorter gathers before it
// sorts them into a span (a variable for tests).
var SortSpan = 1 << 15

// Runs collects a replay's writes and hands them to Pebble as sorted
// runs of sstables that it ingests, instead of committing batches: the
// records skip the memtable, its flushes and the compactions that would
// rewrite the flushed tables again and again while the replay goes on.
// Into projections that were excised (an empty keyspace), a replay that
// fits in RunBudget lands in the bottom level as one run, written once.
//
// A sorter goroutine sorts the writes by family, in spans, while the
// replay goes on; a run merges the spans of each family into its tables.
// Each run is ingested above the earlier ones, so a later run's write of a
// key wins. The first run leaves point deletions out: nothing below it
// holds the projections any more (the rebuild dropped them).
type Runs struct {
	db    *pebble.DB
	fs    vfs.FS
	dir   string // where tables are written before their ingestion
	wopts sstable.WriterOptions
	// chunks hold the writes collected since the last run, in the order
	// they were made (see ref.at).
	chunks [][]write
	// bytes counts what the collected writes add to the heap: the key and
	// value of a kept family's write are the Loader's kept record's, and
	// counted there.
	bytes int
	// famBytes counts the collected bytes by family, to share the
	// families out among the workers that write a run.
	famBytes [256]int
	sorter   *sorter // nil until the run's first write
	// ranges are the deletions of ranges made since the last run: each
	// drops the collected writes in its range made before it.
	ranges []runRange
	runs   int // runs ingested so far
}

// ref names a collected write: its key, and at, its place in the order
// the writes were made, the index of its chunk in the high 32 bits and its
// index in the chunk in the low ones.
type ref struct {
	key string
	at  uint64
}

// cmpRefs orders refs by key, then by when they were made.
func cmpRefs(a, b ref) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.at, b.at)
}

// runRange is a range deletion [start, end) made after the writes before
// at (see ref.at).
type runRange struct {
	start, end string
	at         uint64
}

// MaxRunRanges bounds the range deletions a run collects: each costs a
// comparison for every write made before it, so past this many the sink
// ingests what it has first (a variable for tests).
var MaxRunRanges = 64

// NewRuns returns a sink that ingests into db, writing its tables in
// dir of fs with wopts.
func NewRuns(db *pebble.DB, fs vfs.FS, dir string, wopts sstable.WriterOptions) *Runs {
	return &Runs{db: db, fs: fs, dir: dir, wopts: wopts}
}

// add collects writes, which the sink then owns.
func (s *Runs) add(writes []write) {
	if len(writes) == 0 {
		return
	}
	if s.sorter == nil {
		s.sorter = newSorter()
	}
	s.sorter.in <- sortChunk{idx: uint64(len(s.chunks)), writes: writes}
	s.chunks = append(s.chunks, writes)
	for _, w := range writes {
		b := len(w.key) + len(w.val) + runWriteOverhead
		s.famBytes[w.key[0]] += b
		if keptFamily(w.key) {
			// The Loader keeps its key and value, and counts them.
			b = runWriteOverhead
		}
		s.bytes += b
	}
}

// deleteRange deletes [start, end): from the collected writes, and, when
// runs hold records already, from the database, above those runs and below
// the ones to come.
func (s *Runs) deleteRange(start, end []byte) error {
	if len(s.ranges) == MaxRunRanges {
		if err := s.ingest(); err != nil {
			return err
		}
	}
	if len(s.chunks) > 0 {
		s.ranges = append(s.ranges, runRange{start: string(start), end: string(end), at: uint64(len(s.chunks)) << 32})
	}
	if s.runs == 0 {
		return nil
	}
	if err := s.db.DeleteRange(start, end, pebble.NoSync); err != nil {
		return fmt.Errorf("engine: replay: delete range: %w", err)
	}
	return nil
}

// ingest writes the collected writes out as one run and ingests it. The
// families are cut into pieces (see pieces) that up to GOMAXPROCS workers
// take, the largest first, each merging its piece's spans and writing
// their tables.
func (s *Runs) ingest() error {
	if s.sorter == nil {
		s.ranges = s.ranges[:0]
		return nil
	}
	sorted := s.sorter.finish()
	if err := s.fs.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("engine: replay: %w", err)
	}
	workers := runtime.GOMAXPROCS(0)
	var all []piece
	for f, n := range s.famBytes {
		if n > 0 {
			all = append(all, pieces(byte(f), sorted.spansOf(byte(f)), n, workers)...)
		}
	}
	slices.SortFunc(all, func(a, b piece) int { return b.bytes - a.bytes })
	queue := make(chan piece, len(all))
	for _, p := range all {
		queue <- p
	}
	close(queue)
	workers = min(workers, len(all))
	paths := make([][]string, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for p := range queue {
				ps, err := s.writePiece(p)
				paths[i] = append(paths[i], ps...)
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	tables := slices.Concat(paths...)
	err := errors.Join(errs...)
	if err == nil && len(tables) > 0 {
		if err = s.db.Ingest(context.Background(), tables); err != nil {
			err = fmt.Errorf("engine: replay: ingest: %w", err)
		}
	}
	for _, p := range tables {
		_ = s.fs.Remove(p) // the database holds its own link to an ingested table
	}
	if err != nil {
		return err
	}
	s.chunks, s.bytes, s.famBytes, s.sorter, s.ranges = nil, 0, [256]int{}, nil, s.ranges[:0]
	s.runs++
	return nil
}

// piece is a part of a family's sorted writes that one worker writes
// into tables of its own: the whole family, or, when the family's spans
// follow each other in key order, some of them.
type piece struct {
	fam     byte
	idx     int // the piece's place among its family's
	spans   [][]ref
	ordered bool // spans follow each other: each one's keys all below the next's
	bytes   int  // about how many bytes its writes hold
}

// pieces cuts family fam's sorted spans, holding about bytes, into pieces.
// Spans that follow each other in key order (the log's, the change
// index's: written in the order of their keys) need no merge, and their
// tables do not overlap: they are cut into up to workers pieces of about
// as many spans each, so that the largest family (the log's records)
// does not keep one worker busy while the others idle. Otherwise the
// family is one piece, merged.
func pieces(fam byte, spans [][]ref, bytes, workers int) []piece {
	spans = slices.DeleteFunc(slices.Clone(spans), func(sp []ref) bool { return len(sp) == 0 })
	if !followEachOther(spans) {
		return []piece{{fam: fam, spans: spans, bytes: bytes}}
	}
	n := max(1, min(workers, len(spans)))
	out := make([]piece, 0, n)
	for i := range n {
		part := spans[i*len(spans)/n : (i+1)*len(spans)/n]
		out = append(out, piece{fam: fam, idx: i, spans: part, ordered: true, bytes: bytes * len(part) / max(1, len(spans))})
	}
	return out
}

// followEachOther reports whether each sorted span's keys are all below
// the next span's.
func followEachOther(spans [][]ref) bool {
	for i := 1; i < len(spans); i++ {
		if spans[i-1][len(spans[i-1])-1].key >= spans[i][0].key {
			return false
		}
	}
	return true
}

// writePiece writes piece p's writes into tables, the last write of each
// key only, and returns their paths.
func (s *Runs) writePiece(p piece) (paths []string, err error) {
	t := &tableWriter{s: s, fam: p.fam, piece: p.idx}
	defer func() {
		if cerr := t.close(); err == nil {
			err = cerr
		}
		paths = t.paths
	}()
	var (
		last ref
		have bool
	)
	emit := func(r ref) error {
		if have && r.key != last.key {
			if err := t.put(last); err != nil {
				return err
			}
		}
		last, have = r, true // of several writes of a key, the last made wins
		return nil
	}
	if p.ordered {
		err = emitInOrder(p.spans, emit)
	} else {
		err = mergeSpans(p.spans, emit)
	}
	if err == nil && have {
		err = t.put(last)
	}
	return paths, err
}

// emitInOrder calls emit with the refs of spans that follow each other,
// in order: what mergeSpans does for them, without comparing.
func emitInOrder(spans [][]ref, emit func(ref) error) error {
	for _, sp := range spans {
		for _, r := range sp {
			if err := emit(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropped reports whether a range deletion made after the write r covers
// it.
func (s *Runs) dropped(r ref) bool {
	for _, d := range s.ranges {
		if d.at > r.at && r.key >= d.start && r.key < d.end {
			return true
		}
	}
	return false
}

// tableWriter writes one piece's records, in order, into tables under
// RunTableSize.
type tableWriter struct {
	s     *Runs
	fam   byte
	piece int
	w     *sstable.Writer
	key   []byte
	paths []string
}

// put writes the write r names, unless a later range deletion dropped it
// or it deletes what nothing below holds.
func (t *tableWriter) put(r ref) error {
	if t.s.dropped(r) {
		return nil
	}
	x := t.s.chunks[r.at>>32][uint32(r.at)]
	if x.deleted && t.s.runs == 0 {
		return nil
	}
	if t.w != nil && t.w.Raw().EstimatedSize() >= RunTableSize {
		if err := t.close(); err != nil {
			return err
		}
	}
	if t.w == nil {
		path := t.s.fs.PathJoin(t.s.dir, fmt.Sprintf("%d-%02x-%d-%d.sst", t.s.runs, t.fam, t.piece, len(t.paths)))
		f, err := t.s.fs.Create(path, vfs.WriteCategoryUnspecified)
		if err != nil {
			return fmt.Errorf("engine: replay: %w", err)
		}
		t.paths = append(t.paths, path)
		t.w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), t.s.wopts)
	}
	t.key = append(t.key[:0], x.key...)
	var err error
	if x.deleted {
		err = t.w.Delete(t.key)
	} else {
		err = t.w.Set(t.key, x.val)
	}
	if err != nil {
		return fmt.Errorf("engine: replay: write table: %w", err)
	}
	return nil
}

// close finishes the table being written, if any.
func (t *tableWriter) close() error {
	if t.w == nil {
		return nil
	}
	err := t.w.Close()
	t.w = nil
	if err != nil {
		return fmt.Errorf("engine: replay: write table: %w", err)
	}
	return nil
}

// Close removes the sink's directory.
func (s *Runs) Close() {
	if s.sorter != nil {
		s.sorter.finish()
		s.sorter = nil
	}
	_ = s.fs.RemoveAll(s.dir)
}

package engine

import (
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

// runBudget bounds the bytes of records a replay collects before it
// ingests them as a run (a variable for tests).
var runBudget = 128 << 20

// runTableSize is the estimated size at which a run's table is cut.
const runTableSize = 64 << 20

// runWriteOverhead approximates what one collected write costs beyond its
// key and value: the write itself and its share of the bucket's slice.
const runWriteOverhead = 48

// runSink collects a replay's writes and hands them to Pebble as sorted
// runs of sstables that it ingests, instead of committing batches: the
// records skip the memtable, its flushes and the compactions that would
// rewrite the flushed tables again and again while the replay goes on.
// Into projections that were excised (an empty keyspace), a replay that
// fits in runBudget lands in the bottom level as one run, written once.
//
// Each run is ingested above the earlier ones, so a later run's write of
// a key wins. The first run leaves point deletions out: nothing below it
// holds the projections any more (the rebuild dropped them).
type runSink struct {
	db    *pebble.DB
	fs    vfs.FS
	dir   string // where tables are written before their ingestion
	wopts sstable.WriterOptions
	// chunks hold the writes collected since the last run, in the order
	// they were made; n counts them, so that a write's position is its
	// index in their concatenation.
	chunks [][]write
	n      int
	bytes  int
	// famBytes counts the collected bytes by family, to share the
	// families out among the workers that write a run.
	famBytes [256]int
	// ranges are the deletions of ranges made since the last run: each
	// drops the collected writes in its range made before it (at a lower
	// position).
	ranges []runRange
	runs   int // runs ingested so far
}

// runRange is a range deletion [start, end) made after the first pos
// collected writes.
type runRange struct {
	start, end string
	pos        int
}

// maxRunRanges bounds the range deletions a run collects: each costs a
// comparison for every write made before it, so past this many the sink
// ingests what it has first.
const maxRunRanges = 64

// newRunSink returns a sink that ingests into db, writing its tables in
// dir of fs with wopts.
func newRunSink(db *pebble.DB, fs vfs.FS, dir string, wopts sstable.WriterOptions) *runSink {
	return &runSink{db: db, fs: fs, dir: dir, wopts: wopts}
}

// add collects writes, which the sink then owns.
func (s *runSink) add(writes []write) {
	if len(writes) == 0 {
		return
	}
	s.chunks = append(s.chunks, writes)
	s.n += len(writes)
	for _, w := range writes {
		b := len(w.key) + len(w.val) + runWriteOverhead
		s.bytes += b
		s.famBytes[w.key[0]] += b
	}
}

// deleteRange deletes [start, end): from the collected writes, and, when
// runs hold records already, from the database, above those runs and below
// the ones to come.
func (s *runSink) deleteRange(start, end []byte) error {
	if len(s.ranges) == maxRunRanges {
		if err := s.ingest(); err != nil {
			return err
		}
	}
	if s.n > 0 {
		s.ranges = append(s.ranges, runRange{start: string(start), end: string(end), pos: s.n})
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
// families are shared out among up to GOMAXPROCS workers, each of which
// sorts its families and writes their tables.
func (s *runSink) ingest() error {
	if s.n == 0 {
		s.ranges = s.ranges[:0]
		return nil
	}
	if err := s.fs.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("engine: replay: %w", err)
	}
	shares := s.share(runtime.GOMAXPROCS(0))
	paths := make([][]string, len(shares))
	errs := make([]error, len(shares))
	var wg sync.WaitGroup
	for i, fams := range shares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = s.writeFamilies(fams)
		}()
	}
	wg.Wait()
	all := slices.Concat(paths...)
	err := errors.Join(errs...)
	if err == nil && len(all) > 0 {
		if err = s.db.Ingest(context.Background(), all); err != nil {
			err = fmt.Errorf("engine: replay: ingest: %w", err)
		}
	}
	for _, p := range all {
		_ = s.fs.Remove(p) // the database holds its own link to an ingested table
	}
	if err != nil {
		return err
	}
	s.chunks, s.n, s.bytes, s.famBytes, s.ranges = nil, 0, 0, [256]int{}, s.ranges[:0]
	s.runs++
	return nil
}

// share splits the collected families among at most workers shares of
// about equal bytes, the largest family first to the lightest share.
func (s *runSink) share(workers int) [][]byte {
	var fams []byte
	for f, n := range s.famBytes {
		if n > 0 {
			fams = append(fams, byte(f))
		}
	}
	slices.SortFunc(fams, func(a, b byte) int { return s.famBytes[b] - s.famBytes[a] })
	shares := make([][]byte, min(workers, len(fams)))
	load := make([]int, len(shares))
	for _, f := range fams {
		i := slices.Index(load, slices.Min(load))
		shares[i] = append(shares[i], f)
		load[i] += s.famBytes[f]
	}
	return shares
}

// posWrite is a collected write with its position, which orders the writes
// of one key.
type posWrite struct {
	write
	pos int
}

// writeFamilies writes the collected writes of fams, each family sorted
// into tables of its own (so that no table spans a family the run does not
// write, such as the meta records) under runTableSize, and returns their
// paths.
func (s *runSink) writeFamilies(fams []byte) ([]string, error) {
	var byFam [256][]posWrite
	for _, f := range fams {
		byFam[f] = make([]posWrite, 0, s.famBytes[f]/(runWriteOverhead+16))
	}
	pos := 0
	for _, c := range s.chunks {
		for _, w := range c {
			if byFam[w.key[0]] != nil && !s.dropped(w.key, pos) {
				byFam[w.key[0]] = append(byFam[w.key[0]], posWrite{w, pos})
			}
			pos++
		}
	}
	var paths []string
	for _, f := range fams {
		ws := byFam[f]
		slices.SortFunc(ws, func(x, y posWrite) int {
			if c := strings.Compare(x.key, y.key); c != 0 {
				return c
			}
			return x.pos - y.pos
		})
		p, err := s.writeTables(f, ws)
		paths = append(paths, p...)
		if err != nil {
			return paths, err
		}
	}
	return paths, nil
}

// dropped reports whether a range deletion made after the write at pos
// covers key.
func (s *runSink) dropped(key string, pos int) bool {
	for _, r := range s.ranges {
		if r.pos > pos && key >= r.start && key < r.end {
			return true
		}
	}
	return false
}

// writeTables writes the sorted writes of family fam into tables, the last
// write of each key only, and returns their paths.
func (s *runSink) writeTables(fam byte, ws []posWrite) (paths []string, err error) {
	var (
		w   *sstable.Writer
		key []byte
	)
	defer func() {
		if w != nil {
			if cerr := w.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("engine: replay: write table: %w", cerr)
			}
		}
	}()
	for i, x := range ws {
		if i+1 < len(ws) && ws[i+1].key == x.key {
			continue // a later write of the key wins
		}
		if x.deleted && s.runs == 0 {
			continue
		}
		if w != nil && w.Raw().EstimatedSize() >= runTableSize {
			err, w = w.Close(), nil
			if err != nil {
				return paths, fmt.Errorf("engine: replay: write table: %w", err)
			}
		}
		if w == nil {
			path := s.fs.PathJoin(s.dir, fmt.Sprintf("%d-%02x-%d.sst", s.runs, fam, len(paths)))
			f, err := s.fs.Create(path, vfs.WriteCategoryUnspecified)
			if err != nil {
				return paths, fmt.Errorf("engine: replay: %w", err)
			}
			paths = append(paths, path)
			w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), s.wopts)
		}
		key = append(key[:0], x.key...)
		if x.deleted {
			err = w.Delete(key)
		} else {
			err = w.Set(key, x.val)
		}
		if err != nil {
			return paths, fmt.Errorf("engine: replay: write table: %w", err)
		}
	}
	return paths, nil
}

// close removes the sink's directory.
func (s *runSink) close() {
	_ = s.fs.RemoveAll(s.dir)
}

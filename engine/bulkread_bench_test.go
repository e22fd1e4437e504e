package engine

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/almanac/almanac/internal/calgen"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// BenchmarkMultigetFloor measures the floor under a multiget's reads:
// the store of dav's BenchmarkMultiget1KBServed (1,000 events of
// calgen.Agenda1KB in one calendar, serve's 2 MiB memtables and 14 MiB
// block cache at the default --memory-budget, then the idle release's
// FlushIdle and DropBlockCache), read for 100 names (every seventh, and
// 100 contiguous) per operation in four ways:
//
//   - records: Pebble alone, the object records only: one iterator,
//     positioned on each key as ObjectsIn does (stepGE), each value
//     copied into a buffer;
//   - layout: Pebble alone, every read the store's layout needs: records
//     as above, then the log records holding the bodies in log order
//     (a Next to the next record, a seek to any other), each value
//     copied; the seqs are known beforehand;
//   - ObjectsIn: the engine as a multiget calls it (a View, a reused
//     BulkScratch, bodies);
//   - inline: a layout the store does not have, for the estimate of a
//     change of layout: a second Pebble store, opened as Open opens
//     the engine's, holding each object's record and body under its
//     object key, flushed and compacted; one read per object;
//   - separated: the store's layout, in a store that Pebble's value
//     separation gives blob files for values from 256 bytes (the log
//     records, not the object records): layout's reads over a copy of
//     the calendar's records and the log, flushed and compacted;
//   - copied: separated's control, the same copy without value
//     separation.
//
// objects/cpu-s is the process's CPU per object read.
func BenchmarkMultigetFloor(b *testing.B) {
	db, err := Open(b.TempDir(), &Options{MemTableSize: 2 << 20, CacheSize: 14 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	MustCalendar(b, db)
	all := make([]string, 1000)
	for i := range all {
		uid := fmt.Sprintf("ev%06d", i)
		all[i] = uid + ".ics"
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", all[i], calgen.Agenda1KB(uid), PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	db.FlushIdle(ctx)
	db.DropBlockCache()
	inline, separated, copied := inlineStore(b, db, all), copyStore(b, db, true), copyStore(b, db, false)
	b.Logf("levels (tables): engine %s; inline %s; separated %s; copied %s",
		levelTables(db.pdb), levelTables(inline), levelTables(separated), levelTables(copied))
	for _, pick := range []struct {
		name  string
		index func(int) int
	}{{"seventh", func(i int) int { return 7 * i }}, {"contiguous", func(i int) int { return 300 + i }}} {
		names := make([]string, 100)
		for i := range names {
			names[i] = all[pick.index(i)]
		}
		v, err := db.View()
		if err != nil {
			b.Fatal(err)
		}
		c, err := v.Collection("/alice/cal/")
		if err != nil {
			b.Fatal(err)
		}
		objs, err := v.ObjectsIn(c, names, false, nil)
		if err != nil {
			b.Fatal(err)
		}
		recKeys := make([][]byte, len(names))
		seqs := make([]Seq, len(names))
		for i, o := range objs {
			recKeys[i] = keys.ObjKey(c.ID, names[i])
			seqs[i] = o.bodySeq
		}
		v.Close()
		slices.Sort(seqs)
		lo := keys.IDPrefix(keys.Obj, c.ID)
		f := &floorReads{b: b, recKeys: recKeys, seqs: seqs,
			recOpts: &pebble.IterOptions{LowerBound: lo, UpperBound: keys.PrefixEnd(lo)},
			logOpts: &pebble.IterOptions{LowerBound: []byte{keys.Log}, UpperBound: []byte{keys.Log + 1}}}
		run := func(name string, read func()) {
			b.Run(pick.name+"/"+name, func(b *testing.B) {
				cpu0 := cpuTime()
				for b.Loop() {
					read()
				}
				cpu := cpuTime() - cpu0
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(len(names)*b.N)/cpu.Seconds(), "objects/cpu-s")
			})
		}
		run("records", func() {
			v, _ := db.View()
			f.records(v.v.snap)
			v.Close()
		})
		run("layout", func() {
			v, _ := db.View()
			f.layout(v.v.snap)
			v.Close()
		})
		sc := new(BulkScratch)
		run("ObjectsIn", func() {
			v, _ := db.View()
			c, err := v.Collection("/alice/cal/")
			if err != nil {
				b.Fatal(err)
			}
			objs, err := v.ObjectsIn(c, names, true, sc)
			if err != nil || objs[len(objs)-1] == nil || len(objs[0].Body) == 0 {
				b.Fatalf("ObjectsIn: %v", err)
			}
			v.Close()
		})
		run("inline", func() { f.records(inline) })
		run("separated", func() { f.layout(separated) })
		run("copied", func() { f.layout(copied) })
	}
}

// floorReads are BenchmarkMultigetFloor's reads through Pebble alone
// (methods, so that callgrind's --toggle-collect can name them).
type floorReads struct {
	b                *testing.B
	recOpts, logOpts *pebble.IterOptions
	recKeys          [][]byte // the object records' keys, in key order
	seqs             []Seq    // the seqs of the log records holding the bodies, ascending
	buf              []byte   // what the values are copied into
}

// records copies the values of the object records of f.recKeys out of r,
// positioning one iterator on each as ObjectsIn does.
func (f *floorReads) records(r pebble.Reader) {
	f.buf = f.buf[:0]
	it, err := r.NewIter(f.recOpts)
	if err != nil {
		f.b.Fatal(err)
	}
	for _, k := range f.recKeys {
		if !stepGE(it, k) || !bytes.Equal(it.Key(), k) {
			f.b.Fatalf("record %q not found", k)
		}
		f.buf = append(f.buf, it.Value()...)
	}
	if err := it.Close(); err != nil {
		f.b.Fatal(err)
	}
}

// layout is records, then a copy of each log record of f.seqs, stepping
// to a record that follows the one before and seeking any other, as
// ObjectsIn's body reader does.
func (f *floorReads) layout(r pebble.Reader) {
	f.records(r)
	it, err := r.NewIter(f.logOpts)
	if err != nil {
		f.b.Fatal(err)
	}
	var key []byte
	for i, seq := range f.seqs {
		key = keys.AppendLogKey(key[:0], uint64(seq))
		var ok bool
		if i > 0 && seq == f.seqs[i-1]+1 {
			ok = it.Next()
		} else {
			ok = it.SeekGE(key)
		}
		if !ok || !bytes.Equal(it.Key(), key) {
			f.b.Fatalf("log record %d not found", seq)
		}
		f.buf = append(f.buf, it.Value()...)
	}
	if err := it.Close(); err != nil {
		f.b.Fatal(err)
	}
}

// inlineStore returns a Pebble store, opened with the options Open gives
// the engine's, that holds under each of names' object keys in db's
// calendar the object's record followed by its body, flushed to tables
// and compacted.
func inlineStore(b *testing.B, db *DB, names []string) *pebble.DB {
	p := floorStore(b, nil)
	v, err := db.View()
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	c, err := v.Collection("/alice/cal/")
	if err != nil {
		b.Fatal(err)
	}
	objs, err := v.ObjectsIn(c, names, true, nil)
	if err != nil {
		b.Fatal(err)
	}
	batch := p.NewBatch()
	for i, o := range objs {
		k := keys.ObjKey(c.ID, names[i])
		rec, err := getBytes(v.v.snap, k)
		if err != nil {
			b.Fatal(err)
		}
		if err := batch.Set(k, append(rec, o.Body...), nil); err != nil {
			b.Fatal(err)
		}
	}
	settle(b, p, batch)
	return p
}

// copyStore returns a Pebble store, opened as floorStore opens it (with
// value separation for values from 256 bytes when separate is set),
// holding a copy of the object records and the log of db, flushed to
// tables and compacted.
func copyStore(b *testing.B, db *DB, separate bool) *pebble.DB {
	var sep func() pebble.ValueSeparationPolicy
	if separate {
		sep = func() pebble.ValueSeparationPolicy {
			return pebble.ValueSeparationPolicy{Enabled: true, MinimumSize: 256, MaxBlobReferenceDepth: 10,
				RewriteMinimumAge: time.Hour, TargetGarbageRatio: 1}
		}
	}
	p := floorStore(b, sep)
	v, err := db.View()
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	batch := p.NewBatch()
	for _, family := range []byte{keys.Obj, keys.Log} {
		it, err := v.v.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{family}, UpperBound: []byte{family + 1}})
		if err != nil {
			b.Fatal(err)
		}
		for it.First(); it.Valid(); it.Next() {
			if err := batch.Set(it.Key(), it.Value(), nil); err != nil {
				b.Fatal(err)
			}
		}
		if err := it.Close(); err != nil {
			b.Fatal(err)
		}
	}
	settle(b, p, batch)
	return p
}

// floorStore opens a Pebble store with the options Open gives the
// engine's at serve's default memory budget, and the value separation
// policy sep when it is not nil.
func floorStore(b *testing.B, sep func() pebble.ValueSeparationPolicy) *pebble.DB {
	cache := pebble.NewCache(14 << 20)
	defer cache.Unref()
	opts := &pebble.Options{Cache: cache, FormatMajorVersion: pebble.FormatNewest, MemTableSize: 2 << 20}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	opts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionFastest })
	opts.Experimental.ValueSeparationPolicy = sep
	p, err := pebble.Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p
}

// settle commits batch to p, flushes it to a table and compacts the
// whole store.
func settle(b *testing.B, p *pebble.DB, batch *pebble.Batch) {
	if err := batch.Commit(pebble.Sync); err != nil {
		b.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := p.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		b.Fatal(err)
	}
}

// levelTables describes the tables in each non-empty level of p, and
// its blob files.
func levelTables(p *pebble.DB) string {
	m := p.Metrics()
	var s string
	for i, l := range m.Levels {
		if l.TablesCount > 0 {
			s += fmt.Sprintf(" L%d:%d", i, l.TablesCount)
		}
	}
	if m.BlobFiles.LiveCount > 0 {
		s += fmt.Sprintf(", blob files %d (%d bytes of values)", m.BlobFiles.LiveCount, m.BlobFiles.ValueSize)
	}
	return s
}

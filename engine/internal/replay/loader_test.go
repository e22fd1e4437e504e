package replay

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestForgetKept: deleting one collection's objects drops that bucket of a
// replay's kept records and nothing else, and the byte count follows.
func TestForgetKept(t *testing.T) {
	t.Parallel()
	o := &Loader{kept: map[string]map[string][]byte{}}
	for id := uint64(1); id <= 3; id++ {
		o.keep(string(keys.ObjKey(id, "a.ics")), entry{val: []byte("obj")})
		o.keep(string(keys.TombKey(id, "b.ics")), entry{val: []byte("tomb")})
		o.keep(string(keys.CollKey(id)), entry{val: []byte("coll")})
	}
	before := o.keptBytes
	p := keys.IDPrefix(keys.Obj, 2)
	o.forgetKept(p, keys.PrefixEnd(p))
	if _, ok := o.keptGet(keys.ObjKey(2, "a.ics")); ok {
		t.Error("collection 2's object survived the deletion of its range")
	}
	for _, k := range [][]byte{keys.ObjKey(1, "a.ics"), keys.ObjKey(3, "a.ics"), keys.TombKey(2, "b.ics"), keys.CollKey(2)} {
		if _, ok := o.keptGet(k); !ok {
			t.Errorf("%q is gone, outside the deleted range", k)
		}
	}
	if want := before - keptSize(string(keys.ObjKey(2, "a.ics")), []byte("obj")); o.keptBytes != want {
		t.Errorf("keptBytes = %d, want %d", o.keptBytes, want)
	}
	// A range within a bucket drops only its keys.
	o.forgetKept(keys.CollKey(1), keys.CollKey(2))
	if _, ok := o.keptGet(keys.CollKey(1)); ok {
		t.Error("collection record 1 survived")
	}
	if _, ok := o.keptGet(keys.CollKey(3)); !ok {
		t.Error("collection record 3 is gone")
	}
}

// TestLimit: a Loader limited to a few KiB stops keeping records once they
// outgrow seven eighths of it, and still answers every read (from Pebble); an
// unlimited one keeps them all.
func TestLimit(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{0, 3 << 10} {
		db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
		if err != nil {
			t.Fatal(err)
		}
		o := New(db, nil)
		o.Limit(limit)
		val := bytes.Repeat([]byte("v"), 100)
		for i := range 100 {
			if err := o.Set(keys.ObjKey(1, fmt.Sprintf("%03d.ics", i)), val, nil); err != nil {
				t.Fatal(err)
			}
			if i%10 == 9 {
				if err := o.Flush(false); err != nil {
					t.Fatal(err)
				}
			}
		}
		if want := limit == 0; o.authoritative != want {
			t.Errorf("limit %d: authoritative = %v after %d KiB of records, want %v", limit, o.authoritative, o.keptBytes>>10, want)
		}
		for i := range 100 {
			v, _, err := o.Get(keys.ObjKey(1, fmt.Sprintf("%03d.ics", i)))
			if err != nil || !bytes.Equal(v, val) {
				t.Fatalf("limit %d: object %d: %q, %v", limit, i, v, err)
			}
		}
		o.Close()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKeptBytesCountsTheHeap: what a Loader counts for its kept records is
// about what they take on the heap, the maps' entries included, so that a
// replay's Limit bounds its memory (not parallel: it reads the heap).
func TestKeptBytesCountsTheHeap(t *testing.T) {
	heap := func() int {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int(ms.HeapAlloc)
	}
	before := heap()
	o := &Loader{kept: map[string]map[string][]byte{}}
	for i := range 50000 { // 500 collections of 100 objects, records of 150 bytes
		o.keep(string(keys.ObjKey(uint64(i%500), fmt.Sprintf("ev-%06d.ics", i))), entry{val: make([]byte, 150)})
	}
	held := heap() - before
	runtime.KeepAlive(o)
	if lo, hi := held*85/100, held*130/100; o.keptBytes < lo || o.keptBytes > hi {
		t.Errorf("kept records counted as %d bytes; the heap grew by %d for them (want the count within 85%%–130%% of that)", o.keptBytes, held)
	}
}

// TestKeptAndRunShareTheLimit: a Loader that ingests runs holds its kept
// records and the run it collects within its Limit together: the run is
// ingested early as the kept records grow, and what it counts for a kept
// family's write is only what the run adds (the kept record counts the key
// and value); every record still reads back.
func TestKeptAndRunShareTheLimit(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	db, err := pebble.Open("db", &pebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const limit = 96 << 10
	o := New(db, NewRuns(db, fs, "runs", sstable.WriterOptions{}))
	defer o.Close()
	o.Limit(limit)
	val := bytes.Repeat([]byte("v"), 100)
	for i := range 400 {
		// An object (kept) and a change index record (not kept) a write.
		if err := o.Set(keys.ObjKey(1, fmt.Sprintf("%03d.ics", i)), val, nil); err != nil {
			t.Fatal(err)
		}
		if err := o.Set(keys.ChangeKey(1, uint64(i+1), fmt.Sprintf("%03d.ics", i)), val, nil); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			if err := o.Flush(false); err != nil {
				t.Fatal(err)
			}
			if o.runs == nil {
				t.Fatalf("the Loader stopped ingesting runs after %d writes, %d bytes of kept records", i+1, o.keptBytes)
			}
			if held := o.keptBytes + o.runs.bytes; held >= limit {
				t.Fatalf("after %d writes the Loader holds %d bytes of kept records and %d of run: over its limit %d", i+1, o.keptBytes, o.runs.bytes, limit)
			}
		}
	}
	if o.runs.runs < 2 {
		t.Errorf("%d runs ingested, want the run ingested early as the kept records grew", o.runs.runs)
	}
	if err := o.Flush(true); err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		if v, _, err := o.Get(keys.ObjKey(1, fmt.Sprintf("%03d.ics", i))); err != nil || !bytes.Equal(v, val) {
			t.Fatalf("object %d: %q, %v", i, v, err)
		}
	}
}

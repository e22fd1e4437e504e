//go:build cgo && linux

package main

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestTrimCHeap: with cgo, Pebble's memtables and block cache are C
// memory; once Pebble frees them, trimCHeap hands the free pages of glibc's
// arenas back to the kernel and says so (a no-op trim reports nothing
// released).
func TestTrimCHeap(t *testing.T) {
	trimCHeap() // start from arenas without free pages
	cache := pebble.NewCache(16 << 20)
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Cache: cache, MemTableSize: 4 << 20, Logger: quietPebble{t}})
	if err != nil {
		t.Fatal(err)
	}
	val := make([]byte, 1000)
	for i := range 20000 {
		if err := db.Set(fmt.Appendf(nil, "k%06d", i), val, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range 20000 { // fill the block cache
		_, closer, err := db.Get(fmt.Appendf(nil, "k%06d", i))
		if err != nil {
			t.Fatal(err)
		}
		_ = closer.Close()
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	cache.Unref()
	if !trimCHeap() {
		t.Error("trimCHeap released nothing after Pebble freed its cache and memtables")
	}
}

// quietPebble is a pebble.Logger that keeps Pebble's info lines out of
// the test's output.
type quietPebble struct{ t *testing.T }

func (quietPebble) Infof(string, ...any)        {}
func (q quietPebble) Errorf(f string, a ...any) { q.t.Errorf(f, a...) }
func (q quietPebble) Fatalf(f string, a ...any) { q.t.Fatalf(f, a...) }

//go:build cgo && linux && !race

package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestTrimCHeap: with cgo, Pebble's memtables and block cache are C
// memory; once Pebble frees them, trimCHeap hands the free pages of glibc's
// arenas back to the kernel and says so (a no-op trim reports nothing
// released).
//
// glibc's arenas carry the history of every allocation the process made
// (its trim and mmap thresholds move as chunks are freed), and in the
// whole package the idle releases of other tests' servers trim them too:
// there a trim could find nothing left to release. The check runs in a
// child process of its own, whose arenas hold only what it did.
//
// Not under the race detector: ThreadSanitizer serves C's malloc from its
// own allocator, so glibc's arenas never hold Pebble's memory and there
// is nothing for malloc_trim to do. .ci/run runs it without -race.
func TestTrimCHeap(t *testing.T) {
	if os.Getenv(trimChildEnv) != "1" {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestTrimCHeap$", "-test.count", "1")
		cmd.Env = append(os.Environ(), trimChildEnv+"=1")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	trimCHeap() // start from arenas without free pages
	// Two stores whose block caches fill in turn, so that the blocks of
	// one sit between those of the other in glibc's arenas: once the first
	// is closed, its freed blocks are free pages inside the arenas, which
	// glibc's own trimming of an arena's top never hands back (the idle
	// server's case: the cache evicts blocks from the middle), and only
	// malloc_trim releases.
	var dbs [2]*pebble.DB
	var caches [2]*pebble.Cache
	val := make([]byte, 1000)
	for j := range dbs {
		caches[j] = pebble.NewCache(16 << 20)
		db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Cache: caches[j], MemTableSize: 4 << 20, Logger: quietPebble{t}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10000 {
			if err := db.Set(fmt.Appendf(nil, "k%06d", i), val, pebble.NoSync); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
		dbs[j] = db
	}
	for i := range 10000 { // fill both block caches, a block of each in turn
		for _, db := range dbs {
			_, closer, err := db.Get(fmt.Appendf(nil, "k%06d", i))
			if err != nil {
				t.Fatal(err)
			}
			_ = closer.Close()
		}
	}
	if err := dbs[0].Close(); err != nil {
		t.Fatal(err)
	}
	caches[0].Unref()
	released := trimCHeap()
	if err := dbs[1].Close(); err != nil {
		t.Fatal(err)
	}
	caches[1].Unref()
	if !released {
		t.Error("trimCHeap released nothing after Pebble freed a cache's blocks between those of a cache still in use")
	}
}

// trimChildEnv marks the child process TestTrimCHeap runs its check in.
const trimChildEnv = "ALMANAC_TEST_TRIM_CHILD"

// quietPebble is a pebble.Logger that keeps Pebble's info lines out of
// the test's output.
type quietPebble struct{ t *testing.T }

func (quietPebble) Infof(string, ...any)        {}
func (q quietPebble) Errorf(f string, a ...any) { q.t.Errorf(f, a...) }
func (q quietPebble) Fatalf(f string, a ...any) { q.t.Fatalf(f, a...) }

//go:build cgo && linux

package main

/*
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
static int almanac_trim(void) { return malloc_trim(0); }
#else
static int almanac_trim(void) { return 0; }
#endif
*/
import "C"

// trimCHeap hands the C allocator's free memory back to the kernel
// (glibc's malloc_trim: every arena, including free pages inside it) and
// reports whether it released any. With cgo, Pebble allocates its block
// cache and memtables with C's malloc; the blocks a burst read and the
// cache evicted stay in glibc's per-thread arenas as free chunks that
// still count as resident (after a 10,000-event load and first sync, 12
// MiB of arenas held the 8 MiB block cache). The idle release calls it
// after a burst. Outside glibc it does nothing.
func trimCHeap() bool { return C.almanac_trim() != 0 }

//go:build cgo && linux

package main

/*
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

// The offline commands that replay the log (offlineReplay, checked by
// TestOfflineArenasCommands).
static const char *almanac_offline[] = {"backup", "import", "rebuild", "verify", NULL};

static int almanac_is_offline(const char *name) {
	for (int i = 0; almanac_offline[i] != NULL; i++) {
		if (strcmp(name, almanac_offline[i]) == 0) {
			return 1;
		}
	}
	return 0;
}

// Runs before the Go runtime starts its threads (glibc calls an
// executable's constructors with its arguments).
__attribute__((constructor)) static void almanac_offline_arenas(int argc, char **argv, char **envp) {
	(void)envp;
#ifdef __GLIBC__
	if (argc > 1 && almanac_is_offline(argv[1])) {
		mallopt(M_ARENA_MAX, 1);
	}
#endif
}
*/
import "C"

import "unsafe"

// An offline command that replays the log (rebuild, verify, backup,
// import) runs with one malloc arena (glibc's M_ARENA_MAX), set by a C
// constructor before the Go runtime starts its threads. With cgo, Pebble
// allocates its block cache and memtables with C's malloc from whatever
// thread a goroutine runs on, and glibc gives each thread that mallocs an
// arena of its own, up to eight a core: the blocks the replay and the
// comparison read and the cache evicted stay in them as free chunks that
// count as resident. verify of 100,000 objects under the default
// --memory-budget held 61 MiB of C heap for 25 MiB in use; with one arena
// 20 MiB for 16 (and the shared cache, engine's openScratch), its peak
// anonymous memory 70 MiB instead of 93-105 (bench/micro-results.md,
// "The offline commands' peak memory"). The cap must come first: it does
// nothing to arenas made before it (set by Go's init or when the command
// opened the data directory, it kept 21 of 37 MiB free). serve keeps
// glibc's default: its many threads read blocks at once.

// offlineArenasCommand reports whether the C constructor caps the arenas
// of a process that runs the command name.
func offlineArenasCommand(name string) bool {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return C.almanac_is_offline(cs) != 0
}

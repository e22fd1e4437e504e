package main

import (
	"flag"
	"fmt"
	"runtime/debug"

	"github.com/almanac/almanac/engine"
)

// defaultMemoryBudget is --memory-budget's default: a small VPS or a
// Raspberry Pi running Almanac next to other services.
const defaultMemoryBudget = 64 << 20

// minMemoryBudget is the smallest budget accepted: below it the Go heap's
// share no longer holds a request's working set and the collector runs
// without pause.
const minMemoryBudget = 16 << 20

// defaultGCPercent is --gc-percent's default, Go's own. serve runs under a
// soft memory limit (the budget), so the percent decides how much of the
// budget the heap takes before a collection while the store is small: at
// 400 (engine.GCPercent, what the in-process benchmarks use) the heap grew
// to the limit after a 1,000-event load (36.6 MiB anonymous memory against
// 22.0 at 100, same limit); past 100,000 objects both collect at the same
// rate (525 against 542 CPU-µs a PUT), and on a fresh store 100 costs ~8%
// more CPU a PUT through HTTP (bench/micro-results.md, "Memory budget").
const defaultGCPercent = 100

// memoryBudget is how serve divides --memory-budget (README, "Memory
// budget"): a quarter is Pebble's block cache, to which Pebble charges its
// memtables (one written, one flushing, and the one Pebble keeps for
// reuse, a 32nd of the budget each, at most 16 MiB: larger measured no
// faster; 2 MiB at the default budget, where 4 took 4 MiB more resident
// after a load and 2 MiB more disk reserve, at no measurable cost a PUT:
// bench/micro-results.md, "Fresh RSS at 10k"); the Go runtime's soft limit
// (GOMEMLIMIT, which counts the heap, goroutine stacks and the runtime's
// own memory) is the rest, or the whole budget when Pebble allocates its
// cache from the Go heap (a build without cgo: the static binary and the
// container image). The offline commands that replay the log (rebuild,
// verify, backup, import) divide their --memory-budget the same way (but
// rebuild, verify and backup give Pebble an eighth: see
// splitOfflineMemoryBudget) and give half of it, out of the Go share, to
// the replay (engine.Options.ReplayMemory, see offlineReplayMemory);
// serve leaves the engine's default to the replays it runs (an admin
// rebuild, a node's bulk catch-up).
//
// The Go limit is the larger share because it is a cliff and the cache is
// not: as the live heap nears the limit the collector runs back to back
// (at 100,000 objects a 32 MiB limit cost 1,600 CPU-µs a PUT against 450
// with 64 MiB), while a smaller cache only sends more reads to the
// kernel's page cache.
type memoryBudget struct {
	Total    int64
	GoLimit  int64 // debug.SetMemoryLimit
	Cache    int64 // engine.Options.CacheSize
	MemTable int64 // engine.Options.MemTableSize
}

// splitMemoryBudget divides total bytes; pebbleInGoHeap says whether
// Pebble's cache and memtables are Go allocations (see pebbleInGoHeap).
// The engine makes Pebble's cache CacheSize + MemTableSize large, so Cache
// is Pebble's quarter less one memtable.
func splitMemoryBudget(total int64, pebbleInGoHeap bool) memoryBudget {
	b := memoryBudget{Total: total, MemTable: min(total/32, 16<<20)}
	pebble := total / 4
	b.Cache = pebble - b.MemTable
	b.GoLimit = total - pebble
	if pebbleInGoHeap {
		b.GoLimit = total
	}
	return b
}

// splitOfflineMemoryBudget divides the --memory-budget of rebuild,
// verify and backup: the Go limit and the replay as serve's split and
// offlineReplayMemory give them, but Pebble an eighth instead of a quarter
// (its memtables a thirty-second each, two at most, the rest its block
// cache), and with cgo the eighth left over is given to nothing: it is
// room for what neither bound counts (at 100,000 objects glibc's arena
// held 20 MiB for Pebble's 16, the Go runtime ~3 MiB beside its heap).
// A replay reads the log and the projections once, in order, so the
// smaller cache cost no CPU at 100,000 objects, nor there when a small
// replay outgrew its kept records and read them back from Pebble
// (memtables of a sixteenth, two of them charged to an eighth, left the
// blocks nothing: 1.7-1.9x the CPU there). The peak anonymous memory at
// 100,000 objects went from 68-73 MiB to 60-63 with the default budget;
// at ~500,000 from 75-80 to 70 (rebuild's CPU +11-15% there), where the
// replay's live heap passes the Go limit (bench/micro-results.md, "The
// offline commands within --memory-budget"). import writes through the
// PUT path and keeps serve's split: its memtables take every write.
func splitOfflineMemoryBudget(total int64, pebbleInGoHeap bool) memoryBudget {
	b := splitMemoryBudget(total, pebbleInGoHeap)
	b.MemTable = min(total/32, 16<<20)
	b.Cache = total/8 - b.MemTable
	return b
}

// addMemoryBudgetFlag registers --memory-budget.
func addMemoryBudgetFlag(fs *flag.FlagSet, dst *int64) {
	fs.Int64Var(dst, "memory-budget", defaultMemoryBudget, "`bytes` of memory the server plans for: a quarter is Pebble's block cache and memtables, the rest the Go runtime's soft limit (GOMEMLIMIT wins when set; README: Memory and disk)")
}

// addOfflineMemoryBudgetFlag registers --memory-budget for an offline
// command that replays the log (rebuild, verify, backup, import).
func addOfflineMemoryBudgetFlag(fs *flag.FlagSet, dst *int64) {
	fs.Int64Var(dst, "memory-budget", defaultMemoryBudget, "`bytes` of memory the command plans for, divided as serve's (a quarter Pebble's cache and memtables, an eighth for rebuild, verify and backup; three quarters the Go soft limit), half of it bounding the replay of the log; 768 MiB or more replays fastest (GOMEMLIMIT wins when set; README: Memory and disk)")
}

// offlineReplayMemory is the share of an offline command's
// --memory-budget total that bounds its replay of the log
// (engine.Options.ReplayMemory): half. The replay counts its kept records
// as the heap holds them (since session 17), so at the default 64 MiB it
// keeps the records of ~110,000 objects and past that stays within its
// 32 MiB: verify, rebuild and backup peaked at 60.5-63.3 MiB of anonymous
// memory at 300,000 and 400,000 objects (bench/micro-results.md). Budgets
// of 768 MiB and more give the replay the engine's default.
func offlineReplayMemory(total int64) int64 { return total / 2 }

// validateMemoryBudget checks --memory-budget.
func validateMemoryBudget(total int64) error {
	if total < minMemoryBudget {
		return &ConfigError{Field: "memory-budget", Err: fmt.Errorf("must be at least %d (16 MiB), got %d", minMemoryBudget, total)}
	}
	return nil
}

// apply sets the engine's share in eopts and, unless GOMEMLIMIT is in the
// environment, the Go runtime's soft memory limit.
func (b memoryBudget) apply(eopts *engine.Options, getenv func(string) string) {
	eopts.CacheSize, eopts.MemTableSize = b.Cache, b.MemTable
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(b.GoLimit)
	}
}

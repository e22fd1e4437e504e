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

// memoryBudget is how serve divides --memory-budget (README, "Memory
// budget"): half is the Go heap's soft limit (GOMEMLIMIT), half is
// Pebble's: its block cache, to which Pebble charges its memtables (one
// written, one flushing, an eighth of the budget each, at most 16 MiB:
// larger measured no faster). Memory outside both (goroutine stacks, the
// runtime's own) counts against the Go limit, which GOMEMLIMIT includes.
type memoryBudget struct {
	Total    int64
	GoLimit  int64 // debug.SetMemoryLimit
	Cache    int64 // engine.Options.CacheSize
	MemTable int64 // engine.Options.MemTableSize
}

// splitMemoryBudget divides total bytes. The engine makes Pebble's cache
// CacheSize + MemTableSize large, so Cache is Pebble's half less one
// memtable.
func splitMemoryBudget(total int64) memoryBudget {
	b := memoryBudget{Total: total, GoLimit: total / 2, MemTable: min(total/8, 16<<20)}
	b.Cache = total/2 - b.MemTable
	return b
}

// addMemoryBudgetFlag registers --memory-budget.
func addMemoryBudgetFlag(fs *flag.FlagSet, dst *int64) {
	fs.Int64Var(dst, "memory-budget", defaultMemoryBudget, "`bytes` of memory the server plans for: half is the Go heap's soft limit (GOMEMLIMIT wins when set), half Pebble's block cache and memtables (README: Memory budget)")
}

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

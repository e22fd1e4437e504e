package main

import (
	"errors"
	"math"
	"runtime/debug"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestSplitMemoryBudget: the Go heap gets half, Pebble's cache and one
// memtable (which the engine adds to the cache) the other half, memtables
// an eighth each up to 16 MiB; the parts add up to the budget.
func TestSplitMemoryBudget(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct{ total, goLimit, cache, memTable int64 }{
		{16 * mib, 8 * mib, 6 * mib, 2 * mib},
		{64 * mib, 32 * mib, 24 * mib, 8 * mib},
		{256 * mib, 128 * mib, 112 * mib, 16 * mib},
		{1024 * mib, 512 * mib, 496 * mib, 16 * mib},
	} {
		b := splitMemoryBudget(c.total)
		if b.GoLimit != c.goLimit || b.Cache != c.cache || b.MemTable != c.memTable {
			t.Errorf("budget %d MiB: %+v, want Go %d, cache %d, memtable %d MiB", c.total/mib, b, c.goLimit/mib, c.cache/mib, c.memTable/mib)
		}
		if sum := b.GoLimit + b.Cache + b.MemTable; sum != c.total {
			t.Errorf("budget %d MiB: parts add up to %d", c.total/mib, sum)
		}
	}
}

// TestMemoryBudgetApply: the budget sets the engine's cache and memtable
// and the Go memory limit, which GOMEMLIMIT in the environment keeps.
func TestMemoryBudgetApply(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	var eopts engine.Options
	splitMemoryBudget(96<<20).apply(&eopts, func(string) string { return "" })
	if eopts.CacheSize != 36<<20 || eopts.MemTableSize != 12<<20 {
		t.Errorf("engine options: cache %d, memtable %d", eopts.CacheSize, eopts.MemTableSize)
	}
	if got := debug.SetMemoryLimit(-1); got != 48<<20 {
		t.Errorf("Go memory limit: %d, want 48 MiB", got)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	splitMemoryBudget(96<<20).apply(&eopts, func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	})
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("Go memory limit with GOMEMLIMIT set: %d, want it left alone", got)
	}
}

// TestServeMemoryBudget: serve takes --memory-budget, applies it, and
// refuses one too small to run in.
func TestServeMemoryBudget(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	startServer(t, "--memory-budget=100000000")
	if got := debug.SetMemoryLimit(-1); got != 50000000 {
		t.Errorf("Go memory limit after serve --memory-budget=100000000: %d", got)
	}
	m := NewMain()
	err := m.ParseFlags([]string{"--memory-budget=1000000"})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "memory-budget" {
		t.Errorf("--memory-budget=1000000: %v, want a memory-budget config error", err)
	}
}

package main

import (
	"errors"
	"math"
	"runtime/debug"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestSplitMemoryBudget: Pebble's cache and one memtable (which the engine
// adds to the cache) get a quarter, memtables a 32nd each up to 16
// MiB; the Go limit is the rest, or the whole budget when Pebble allocates
// from the Go heap; the parts add up to the budget.
func TestSplitMemoryBudget(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct{ total, goLimit, cache, memTable int64 }{
		{16 * mib, 12 * mib, 3.5 * mib, mib / 2},
		{64 * mib, 48 * mib, 14 * mib, 2 * mib},
		{256 * mib, 192 * mib, 56 * mib, 8 * mib},
		{1024 * mib, 768 * mib, 240 * mib, 16 * mib},
	} {
		b := splitMemoryBudget(c.total, false)
		if b.GoLimit != c.goLimit || b.Cache != c.cache || b.MemTable != c.memTable {
			t.Errorf("budget %d MiB: %+v, want Go %d, cache %d, memtable %d MiB", c.total/mib, b, c.goLimit/mib, c.cache/mib, c.memTable/mib)
		}
		if sum := b.GoLimit + b.Cache + b.MemTable; sum != c.total {
			t.Errorf("budget %d MiB: parts add up to %d", c.total/mib, sum)
		}
		inGo := splitMemoryBudget(c.total, true)
		if inGo.GoLimit != c.total || inGo.Cache != c.cache || inGo.MemTable != c.memTable {
			t.Errorf("budget %d MiB, Pebble in the Go heap: %+v, want the Go limit to be the whole budget", c.total/mib, inGo)
		}
	}
}

// TestSplitOfflineMemoryBudget: rebuild, verify and backup give Pebble an
// eighth (memtables a thirty-second each, at most 16 MiB) and keep serve's
// Go limit, so that with cgo an eighth is left for what neither bound
// counts; with Pebble in the Go heap the Go limit is the whole budget.
func TestSplitOfflineMemoryBudget(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct{ total, goLimit, cache, memTable int64 }{
		{16 * mib, 12 * mib, 1.5 * mib, 0.5 * mib},
		{64 * mib, 48 * mib, 6 * mib, 2 * mib},
		{1024 * mib, 768 * mib, 112 * mib, 16 * mib},
	} {
		b := splitOfflineMemoryBudget(c.total, false)
		if b.GoLimit != c.goLimit || b.Cache != c.cache || b.MemTable != c.memTable {
			t.Errorf("budget %d MiB: %+v, want Go %d, cache %d, memtable %d MiB", c.total/mib, b, c.goLimit/mib, c.cache/mib, c.memTable/mib)
		}
		if left := c.total - (b.GoLimit + b.Cache + b.MemTable); left != c.total/8 {
			t.Errorf("budget %d MiB: %d left over, want an eighth", c.total/mib, left)
		}
		if inGo := splitOfflineMemoryBudget(c.total, true); inGo.GoLimit != c.total || inGo.Cache != c.cache {
			t.Errorf("budget %d MiB, Pebble in the Go heap: %+v, want the Go limit to be the whole budget", c.total/mib, inGo)
		}
	}
}

// TestMemoryBudgetApply: the budget sets the engine's cache and memtable
// and the Go memory limit, which GOMEMLIMIT in the environment keeps.
func TestMemoryBudgetApply(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	var eopts engine.Options
	splitMemoryBudget(96<<20, false).apply(&eopts, func(string) string { return "" })
	if eopts.CacheSize != 21<<20 || eopts.MemTableSize != 3<<20 {
		t.Errorf("engine options: cache %d, memtable %d", eopts.CacheSize, eopts.MemTableSize)
	}
	if got := debug.SetMemoryLimit(-1); got != 72<<20 {
		t.Errorf("Go memory limit: %d, want 72 MiB", got)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	splitMemoryBudget(96<<20, false).apply(&eopts, func(k string) string {
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
	want := int64(75000000) // Pebble's quarter outside the Go heap
	if pebbleInGoHeap {
		want = 100000000
	}
	if got := debug.SetMemoryLimit(-1); got != want {
		t.Errorf("Go memory limit after serve --memory-budget=100000000: %d, want %d", got, want)
	}
	m := NewMain()
	err := m.ParseFlags([]string{"--memory-budget=1000000"})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "memory-budget" {
		t.Errorf("--memory-budget=1000000: %v, want a memory-budget config error", err)
	}
}

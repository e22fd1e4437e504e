//go:build cgo

package main

// pebbleInGoHeap is false with cgo: Pebble allocates its block cache and
// memtables with C's allocator (its internal/manual package), outside the
// Go heap and its soft limit.
const pebbleInGoHeap = false

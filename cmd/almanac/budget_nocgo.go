//go:build !cgo

package main

// pebbleInGoHeap is true without cgo (`make static`, the Containerfile):
// Pebble's internal/manual package then allocates its block cache and
// memtables as Go byte slices, which count against the Go soft limit.
const pebbleInGoHeap = true

//go:build !cgo || !linux

package main

// trimCHeap does nothing without cgo (Pebble's memory is then Go memory,
// which debug.FreeOSMemory returns) or outside Linux.
func trimCHeap() bool { return false }

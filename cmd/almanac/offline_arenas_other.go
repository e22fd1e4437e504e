//go:build !cgo || !linux

package main

// offlineArenasCommand is false without cgo on Linux: Pebble's memory is
// then Go's, and no C constructor caps malloc's arenas (see
// offline_arenas_cgo.go).
func offlineArenasCommand(string) bool { return false }

//go:build cgo && linux

package main

import "testing"

// TestOfflineArenasCommands: the C constructor that caps malloc's arenas
// before the Go runtime starts knows the commands by a list of its own;
// it must name every offline command that replays the log, and not serve.
func TestOfflineArenasCommands(t *testing.T) {
	for name := range offlineReplay {
		if !offlineArenasCommand(name) {
			t.Errorf("%s replays the log but its process keeps glibc's arenas", name)
		}
	}
	for _, name := range []string{"serve", "user", "verif", "verifyx", ""} {
		if offlineArenasCommand(name) {
			t.Errorf("%q caps the arenas", name)
		}
	}
}

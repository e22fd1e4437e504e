//go:build linux

package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestReleaseCodePages: releasing the test binary's code pages leaves
// fewer of its file's pages resident than before (the pages that run come
// back, the rest stay out), and the process keeps working: it runs this
// test's remaining code, the runtime and later tests from pages read back.
func TestReleaseCodePages(t *testing.T) {
	before := exeResidentKB(t)
	n, err := releaseCodePages()
	if err != nil {
		t.Fatal(err)
	}
	after := exeResidentKB(t)
	if n == 0 || after >= before {
		t.Errorf("released %d bytes of mappings: the binary's resident pages went from %d to %d KiB", n, before, after)
	}
	t.Logf("released %d MiB of mappings: resident %d -> %d KiB", n>>20, before, after)
}

// exeResidentKB adds up Rss of the test binary's mappings in
// /proc/self/smaps.
func exeResidentKB(t *testing.T) int64 {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var kb int64
	mine := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case !strings.HasSuffix(f[0], ":"):
			mine = len(f) >= 6 && strings.Join(f[5:], " ") == exe
		case mine && f[0] == "Rss:" && len(f) >= 2:
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			kb += v
		}
	}
	return kb
}

//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	n, _, err := releaseCodePages()
	if err != nil {
		t.Fatal(err)
	}
	after := exeResidentKB(t)
	if n == 0 || after >= before {
		t.Errorf("released %d bytes of mappings: the binary's resident pages went from %d to %d KiB", n, before, after)
	}
	t.Logf("released %d MiB of mappings: resident %d -> %d KiB", n>>20, before, after)
}

// releaseChildEnv makes the test binary run TestReleaseFreshBinaryChild.
const releaseChildEnv = "ALMANAC_TEST_RELEASE_CHILD"

// TestReleaseFreshBinary: a program file just written (as `go build` or an
// installer leaves it: dirty, in the page cache as large folios, which
// Linux maps up to 2 MiB at a time) is released as well as an old one.
// Session 11's release left such a binary entirely resident — bench-compare
// builds the binary it runs, and its rss-file row stayed at the whole 40.1
// MiB of text and rodata — because the page cache keeps dirty folios and
// folios the server's other threads map again between the unmapping and
// the drop. A fresh copy of this test binary runs the release in a child
// process, then reads one byte in every 256 KiB of the released mappings
// (as running code across the binary does) and reports its resident pages
// of the copy: fewer than half of what it released (the server binary on
// Linux 6.18: 39.4 of 40.1 MiB before the fix, 9 after it).
func TestReleaseFreshBinary(t *testing.T) {
	// One large write, as a linker's, so the page cache may take the
	// file in large folios (io.Copy would splice it).
	prog, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "almanac-fresh")
	if err := os.WriteFile(bin, prog, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestReleaseFreshBinaryChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), releaseChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var released, residentKB int64
	i := strings.Index(string(out), "released ")
	if i < 0 {
		t.Fatalf("child printed no figures:\n%s", out)
	}
	if _, err := fmt.Sscanf(string(out[i:]), "released %d resident %d", &released, &residentKB); err != nil {
		t.Fatalf("child: %v:\n%s", err, out)
	}
	t.Logf("fresh binary: released %d KiB of mappings, %d KiB resident after", released>>10, residentKB)
	if released == 0 || residentKB*1024 >= released/2 {
		t.Errorf("fresh binary: released %d KiB of mappings, %d KiB still resident: the release did not hold", released>>10, residentKB)
	}
}

// TestReleaseFreshBinaryChild is TestReleaseFreshBinary's child; it does
// nothing in a test run of its own.
func TestReleaseFreshBinaryChild(t *testing.T) {
	if os.Getenv(releaseChildEnv) != "1" {
		return
	}
	n, _, err := releaseCodePages()
	if err != nil {
		t.Fatal(err)
	}
	exe, smaps := selfSmaps(t)
	// /proc/self/mem faults the pages in as a read through the mapping
	// would, without an unsafe pointer into the program's text.
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	b := make([]byte, 1)
	for _, s := range codeMappings(smaps, exe) {
		for a := s.Start; a < s.End; a += 256 << 10 {
			if _, err := mem.ReadAt(b, int64(a)); err != nil {
				t.Fatal(err)
			}
		}
	}
	fmt.Printf("released %d resident %d\n", n, exeResidentKB(t))
}

// exeResidentKB adds up Rss of the test binary's mappings in
// /proc/self/smaps.
func exeResidentKB(t *testing.T) int64 {
	t.Helper()
	exe, b := selfSmaps(t)
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

// selfSmaps returns the path of the running program and the text of
// /proc/self/smaps.
func selfSmaps(t *testing.T) (exe string, smaps []byte) {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	smaps, err = os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	return exe, smaps
}

// TestUnmapCodePages: after a burst the idle release unmaps the code pages
// the burst mapped, so that fewer than half of them stay resident, and
// leaves them in the page cache (the next request's code comes back with a
// minor fault, not a read from the disk).
func TestUnmapCodePages(t *testing.T) {
	spans, err := ownCodeMappings()
	if err != nil || len(spans) == 0 {
		t.Fatalf("code mappings: %v, %v", spans, err)
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	b := make([]byte, 1)
	for _, s := range spans { // a burst running code across the binary
		for a := s.Start; a < s.End; a += 64 << 10 {
			if _, err := mem.ReadAt(b, int64(a)); err != nil {
				t.Fatal(err)
			}
		}
	}
	before, cachedBefore := exeResidentKB(t), mustCached(t, spans)
	if err := unmapCodePages(spans); err != nil {
		t.Fatal(err)
	}
	after, cachedAfter := exeResidentKB(t), mustCached(t, spans)
	t.Logf("resident %d -> %d KiB, page cache %d -> %d KiB", before, after, cachedBefore>>10, cachedAfter>>10)
	if after >= before/2 {
		t.Errorf("unmapped the code pages: resident %d -> %d KiB", before, after)
	}
	if cachedAfter < cachedBefore*9/10 {
		t.Errorf("unmapping dropped the page cache: %d -> %d KiB", cachedBefore>>10, cachedAfter>>10)
	}
}

func mustCached(t *testing.T, spans []codeSpan) int64 {
	t.Helper()
	n, err := cachedBytes(spans)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

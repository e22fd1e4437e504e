package bench

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReadProcMem reads this process's memory: a resident set, a peak at
// least as large, and anonymous and file pages that add up to it.
func TestReadProcMem(t *testing.T) {
	m, err := ReadProcMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSSKB <= 0 || m.HWMKB < m.RSSKB || m.AnonKB <= 0 || m.AnonKB+m.FileKB > m.RSSKB+1024 {
		t.Fatalf("implausible memory: %+v", m)
	}
}

// TestMeasureDisk sorts a data directory's files into its parts and counts
// the blocks they hold, not their apparent sizes.
func TestMeasureDisk(t *testing.T) {
	dir := t.TempDir()
	files := map[string]int{
		"db/000004.log":                     100 << 10,
		"db/000005.sst":                     50 << 10,
		"db/MANIFEST-000001":                1 << 10,
		"db/reserve":                        200 << 10,
		"nats/jetstream/$G/streams/A/1.blk": 30 << 10,
		"push/x":                            1,
	}
	for name, size := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A sparse file: 10 MiB apparent, one block written.
	f, err := os.Create(filepath.Join(dir, "db", "000006.log"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{1}, 10<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	u, err := MeasureDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	for part, want := range map[string]int64{"pebble-wal": 100 << 10, "pebble-sst": 50 << 10, "pebble-other": 1 << 10,
		"disk-reserve": 200 << 10, "nats": 30 << 10, "push": 1} {
		if got := u.Parts[part]; got < want || got > want+64<<10 {
			t.Errorf("%s: %d bytes, want about %d (%v)", part, got, want, u)
		}
	}
	if u.Bytes > 1<<20 {
		t.Errorf("%d bytes in all: the sparse log counted at its apparent size", u.Bytes)
	}
}

// TestDiskNote: the note gives the ratio to the raw objects, and the size
// without the fixed disk reserve when there is one.
func TestDiskNote(t *testing.T) {
	u := DiskUsage{Bytes: 70 << 20, Parts: map[string]int64{"disk-reserve": 64 << 20, "pebble-sst": 6 << 20}}
	want := "MiB: disk-reserve 64.0, pebble-sst 6.0; 23.3× the 3.0 MiB of raw objects; 6.0 MiB without the disk reserve (2.0× raw)"
	if got := diskNote(u, 3<<20); got != want {
		t.Errorf("note\n%s\nwant\n%s", got, want)
	}
	peer := DiskUsage{Bytes: 5 << 20, Parts: map[string]int64{"collection-root": 5 << 20}}
	if got := diskNote(peer, 0); got != "MiB: collection-root 5.0" {
		t.Errorf("peer note: %s", got)
	}
}

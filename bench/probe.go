package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// DiskProbe measures how fast the filesystem holding dir makes small writes
// durable: a loop of 4 KiB write + fdatasync for d. That rate bounds any
// server that syncs each write on its own; group commit can beat it.
func DiskProbe(dir string, d time.Duration) (Result, error) {
	res := Result{Server: "disk", Scenario: "disk-fsync", C: 1}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("disk probe: %w", err)
	}
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return res, fmt.Errorf("disk probe: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	var lat Latencies
	start := time.Now()
	for i := 0; time.Since(start) < d; i++ {
		t0 := time.Now()
		if _, err := f.WriteAt(buf, int64(i%256)*4096); err != nil {
			return res, fmt.Errorf("disk probe: write: %w", err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return res, fmt.Errorf("disk probe: fdatasync: %w", err)
		}
		lat.Add(time.Since(t0))
	}
	el := time.Since(start)
	res.Summary = lat.Summary()
	res.Ops, res.ElapsedS = res.Count, el.Seconds()
	res.Throughput = float64(res.Count) / el.Seconds()
	res.Note = "4 KiB write + fdatasync in " + filepath.Clean(dir)
	return res, nil
}

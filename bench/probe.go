package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// RSS returns the resident set size of process pid in KiB, read from
// /proc/PID/status (VmRSS).
func RSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("rss of %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("rss of %d: %w", pid, err)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("rss of %d: no VmRSS line", pid)
}

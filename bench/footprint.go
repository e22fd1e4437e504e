package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcMem is a process's memory from /proc/PID/status, in KiB: VmRSS, the
// resident set now, VmHWM, its peak since the process started, and the
// resident set's anonymous memory (RssAnon: heaps, C allocations, stacks)
// and file pages (RssFile: mostly the binary's code and data).
type ProcMem struct{ RSSKB, HWMKB, AnonKB, FileKB int64 }

// ReadProcMem reads VmRSS and VmHWM of process pid.
func ReadProcMem(pid int) (ProcMem, error) {
	var m ProcMem
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return m, fmt.Errorf("memory of %d: %w", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		dst := map[string]*int64{"VmRSS": &m.RSSKB, "VmHWM": &m.HWMKB, "RssAnon": &m.AnonKB, "RssFile": &m.FileKB}[k]
		if !ok || dst == nil {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			return m, fmt.Errorf("memory of %d: %s: %w", pid, k, err)
		}
		*dst = kb
	}
	if m.RSSKB == 0 {
		return m, fmt.Errorf("memory of %d: no VmRSS line", pid)
	}
	return m, nil
}

// DiskUsage is the space a data directory takes: Bytes in all, and by part
// (see diskPart), counting allocated blocks (du), not apparent sizes, so a
// preallocated write-ahead log counts as what it holds on disk.
type DiskUsage struct {
	Bytes int64
	Parts map[string]int64
}

// MeasureDisk walks dir and adds up the blocks of its files.
func MeasureDisk(dir string) (DiskUsage, error) {
	u := DiskUsage{Parts: map[string]int64{}}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n := info.Size()
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n = st.Blocks * 512
		}
		rel, _ := filepath.Rel(dir, path)
		u.Bytes += n
		u.Parts[diskPart(filepath.ToSlash(rel))] += n
		return nil
	})
	if err != nil {
		return u, fmt.Errorf("disk usage of %s: %w", dir, err)
	}
	return u, nil
}

// diskPart names the part of a data directory a file belongs to: Pebble's
// write-ahead log, tables and the rest of its files, the embedded NATS
// server's JetStream store, anything else by its first path element.
func diskPart(rel string) string {
	first, _, _ := strings.Cut(rel, "/")
	switch {
	case strings.Contains(rel, "/jetstream/") || first == "nats":
		return "nats"
	case strings.HasSuffix(rel, ".log") && first == "db":
		return "pebble-wal"
	case strings.HasSuffix(rel, ".sst") && first == "db":
		return "pebble-sst"
	case strings.Contains(rel, "reserve"):
		return "disk-reserve"
	case first == "db":
		return "pebble-other"
	}
	return first
}

// String lists the parts, largest first, in MiB.
func (u DiskUsage) String() string {
	names := make([]string, 0, len(u.Parts))
	for k := range u.Parts {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return u.Parts[names[i]] > u.Parts[names[j]] })
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %.1f", k, mib(u.Parts[k]))
	}
	return strings.Join(parts, ", ")
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// footprintMetrics are the Prometheus series of Almanac's /metrics that
// break its memory down.
var footprintMetrics = []string{
	"go_memstats_heap_inuse_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes",
	"go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes",
	"almanac_pebble_block_cache_bytes", "almanac_pebble_memtable_bytes", "almanac_pebble_memtables",
	"almanac_pebble_disk_bytes", "almanac_pebble_wal_bytes",
}

// ScrapeMetrics reads the named unlabelled series from the target's
// /metrics. A server without /metrics answers an empty map.
func ScrapeMetrics(ctx context.Context, c *Client, names []string) (map[string]float64, error) {
	resp, err := c.Do(ctx, "GET", "/metrics", nil, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	if resp.Status != 200 {
		return out, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	sc := bufio.NewScanner(bytes.NewReader(resp.Body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || !want[name] {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = f
		}
	}
	return out, nil
}

// FootprintSettle is how long Footprint waits, quiet, before it reads a
// server's memory: every server gets the same pause after the last
// scenario's burst to hand back what it does not keep (Almanac returns a
// burst's heap 2 s after its last request; bench-compare read it at once
// after the mixed scenario's 20 s of eight clients, with 7–9 MiB of that
// burst's freed heap still resident).
var FootprintSettle = 5 * time.Second

// Footprint measures a server after a load of n objects of raw bytes in
// all, FootprintSettle after the last request: its resident and peak memory (scenario "rss"; Note breaks Almanac's
// down from its /metrics), the resident set's anonymous and file parts
// (rssParts) and its data directory (scenario "disk", Bytes
// the total, Note its parts and the ratio to the raw objects).
func Footprint(ctx context.Context, c *Client, n int, raw int64) []Result {
	var out []Result
	if c.T.PID > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(FootprintSettle):
		}
		r := Result{Server: c.T.Name, Scenario: "rss", N: n}
		m, err := ReadProcMem(c.T.PID)
		if err != nil {
			r.Errors, r.FirstError = 1, err.Error()
		} else {
			r.RSSKB, r.HWMKB = m.RSSKB, m.HWMKB
			r.Note = fmt.Sprintf("MiB: anon %.1f, file %.1f", float64(m.AnonKB)/1024, float64(m.FileKB)/1024)
		}
		if ms, err := ScrapeMetrics(ctx, c, footprintMetrics); err == nil && len(ms) > 0 {
			var parts []string
			for _, k := range footprintMetrics {
				if v, ok := ms[k]; ok {
					name := strings.TrimPrefix(strings.TrimPrefix(k, "go_memstats_"), "almanac_pebble_")
					if strings.HasSuffix(k, "_bytes") {
						parts = append(parts, fmt.Sprintf("%s %.1f", strings.TrimSuffix(name, "_bytes"), v/(1<<20)))
					} else {
						parts = append(parts, fmt.Sprintf("%s %.0f", name, v))
					}
				}
			}
			r.Note += "; " + strings.Join(parts, ", ")
		}
		out = append(out, r)
		if r.Errors == 0 {
			out = append(out, rssParts(r.Server, n, m)...)
		}
	}
	if c.T.DataDir != "" {
		r := Result{Server: c.T.Name, Scenario: "disk", N: n}
		if u, err := MeasureDisk(c.T.DataDir); err != nil {
			r.Errors, r.FirstError = 1, err.Error()
		} else {
			r.DiskBytes = u.Bytes
			r.Note = diskNote(u, raw)
		}
		out = append(out, r)
	}
	return out
}

// rssParts splits a server's resident set m into its anonymous memory
// (scenario "rss-anon": what the server allocated) and its file pages
// ("rss-file": mostly the program's code, shared and reclaimable), so that
// the comparison shows both next to the peers' and nobody reads one
// server's code pages as another's heap. RSSKB holds each part.
func rssParts(server string, n int, m ProcMem) []Result {
	return []Result{
		{Server: server, Scenario: "rss-anon", N: n, RSSKB: m.AnonKB},
		{Server: server, Scenario: "rss-file", N: n, RSSKB: m.FileKB},
	}
}

// diskNote describes a data directory: its parts in MiB, its ratio to the
// raw objects when raw is known, and its size without Almanac's disk
// reserve (5 MiB with the default flags whatever the load since session
// 16, 7 before; a fixed 64 MiB before session 13), which against a peer's few MiB at a small load hides
// the rest.
func diskNote(u DiskUsage, raw int64) string {
	note := "MiB: " + u.String()
	if raw > 0 {
		note += fmt.Sprintf("; %.1f× the %.1f MiB of raw objects", float64(u.Bytes)/float64(raw), mib(raw))
	}
	if res := u.Parts["disk-reserve"]; res > 0 {
		note += fmt.Sprintf("; %.1f MiB without the disk reserve", mib(u.Bytes-res))
		if raw > 0 {
			note += fmt.Sprintf(" (%.1f× raw)", float64(u.Bytes-res)/float64(raw))
		}
	}
	return note
}

// RawSize is the total size of events 0..n-1 as the generator makes them.
func RawSize(n int) int64 {
	var s int64
	for i := range n {
		s += int64(len(Event(i, 0).Body))
	}
	return s
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/calgen"
)

// BenchmarkImport imports 10,000 ~1 KB events (calgen.Realistic) into a
// new data directory: as one .ics file split by UID (file) and as a
// Radicale folder of one file an event (folder). It reports the process's
// CPU per imported object (cpu-µs/object, user and system: wall time means
// little on a loaded machine) and its allocations (allocs/object, B/object,
// of every goroutine: the engine's writer too), the reading, splitting and
// validating of the files as much as the engine's writes.
func BenchmarkImport(b *testing.B) {
	const n = 10000
	src := b.TempDir()
	var file bytes.Buffer
	file.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Almanac//bench//EN\r\n")
	folder := filepath.Join(src, "folder")
	if err := os.MkdirAll(folder, 0o700); err != nil {
		b.Fatal(err)
	}
	writeFile(b, folder, ".Radicale.props", `{"tag": "VCALENDAR"}`)
	for i := range n {
		uid := fmt.Sprintf("ev-%06d", i)
		body := string(calgen.Realistic(uid))
		writeFile(b, folder, uid+".ics", body)
		inner := strings.TrimSuffix(body[strings.Index(body, "BEGIN:VEVENT"):], "END:VCALENDAR\r\n")
		file.WriteString(inner)
	}
	file.WriteString("END:VCALENDAR\r\n")
	writeFile(b, src, "all.ics", file.String())
	for _, shape := range []string{"file", "folder"} {
		b.Run(shape, func(b *testing.B) {
			var cpu, objects float64
			var mallocs, alloced uint64
			var ms runtime.MemStats
			for range b.N {
				b.StopTimer()
				db, err := openDB(b.TempDir(), nil)
				if err != nil {
					b.Fatal(err)
				}
				im := newImporter(context.Background(), &audit.Local{DB: db, Meta: engine.Meta{Actor: "bench"}})
				b.StartTimer()
				runtime.ReadMemStats(&ms)
				m0, a0 := ms.Mallocs, ms.TotalAlloc
				cpu0 := cpuTime(b)
				if shape == "file" {
					err = im.walk("/dav/home/bench/cal/", filepath.Join(src, "all.ics"))
				} else {
					err = im.walk("/dav/home/bench/cal/", folder)
				}
				if err == nil {
					err = im.flush()
				}
				cpu += float64(cpuTime(b) - cpu0)
				runtime.ReadMemStats(&ms)
				mallocs, alloced = mallocs+ms.Mallocs-m0, alloced+ms.TotalAlloc-a0
				b.StopTimer()
				if err != nil || im.total.Imported != n || len(im.total.Errors) > 0 {
					b.Fatalf("imported %d, errors %v, %v", im.total.Imported, im.total.Errors, err)
				}
				objects += n
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(cpu/1e3/objects, "cpu-µs/object")
			b.ReportMetric(float64(mallocs)/objects, "allocs/object")
			b.ReportMetric(float64(alloced)/objects, "B/object")
		})
	}
}

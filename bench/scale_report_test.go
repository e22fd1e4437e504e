package bench

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// TestScaleFlat checks the flat verdicts: a sync within FlatBound of the
// base with the same bytes and enough samples is flat; one too slow, one
// with another response size or with too few samples is not; the
// incremental base is the smallest size whose syncs found as many
// changes as the largest's.
func TestScaleFlat(t *testing.T) {
	sync := func(sc string, n int, p50 float64, bytes int64, count, got int) Result {
		return Result{Scenario: sc, N: n, Summary: Summary{Count: count, P50: p50}, Bytes: bytes, Got: got}
	}
	results := []Result{
		sync("sync-incremental", 1000, 0.1, 500, 20, 20), // one object: 1 change a round
		sync("sync-incremental", 10000, 1, 2600, 20, 200),
		sync("sync-incremental", 100000, 2.9, 2600, 20, 200),
		sync("sync-incremental", 1000000, 3.1, 2600, 20, 200),
		sync("sync-nochange", 1000, 1, 354, 20, 0),
		sync("sync-nochange", 10000, 1, 355, 20, 0),
		sync("sync-nochange", 100000, 1, 354, 19, 0),
	}
	var got []string
	for _, c := range ScaleFlat(results) {
		got = append(got, strings.Join([]string{c.Scenario, strconv.Itoa(c.N), strconv.Itoa(c.BaseN), map[bool]string{true: "flat", false: "not"}[c.Flat]}, " "))
	}
	want := []string{
		"sync-incremental 10000 10000 flat", "sync-incremental 100000 10000 flat", "sync-incremental 1000000 10000 not",
		"sync-nochange 1000 1000 flat", "sync-nochange 10000 1000 not", "sync-nochange 100000 1000 not",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var md bytes.Buffer
	results = append(results, Result{Scenario: "scale-import", N: 10000, Throughput: 5000}, Result{Scenario: "rss", N: 10000, RSSKB: 100 << 10, HWMKB: 120 << 10},
		Result{Scenario: "scale-verify", N: 10000, ElapsedS: 2, HWMKB: 90 << 10}, Result{Scenario: "scale-rebuild", N: 10000, ElapsedS: 1})
	if err := WriteScaleMarkdown(&md, results, ScaleMeta{Command: "cmd", Note: "note"}); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"| objects in the store | 10000 |", "| import (objects/s) | 5000 |", "| RSS / peak (MiB) | 100 / 120 |", "| nochange | 10000 | 1.0× | false | 20 | **no** |",
		"| verify (s) | 2.0 |", "| verify's peak RSS (MiB) | 90 |", "| rebuild (s) | 1.0 |"} {
		if !strings.Contains(md.String(), line+"\n") {
			t.Errorf("no line %q in\n%s", line, md.String())
		}
	}
	// A run without the offline commands' peaks (before session 16) shows
	// no row of them rather than a row of blanks.
	for _, label := range []string{"rebuild's peak", "import's peak"} {
		if strings.Contains(md.String(), label) {
			t.Errorf("a row %q without a measurement in\n%s", label, md.String())
		}
	}
}

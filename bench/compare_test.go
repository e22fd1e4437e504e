package bench

import (
	"strings"
	"testing"
)

func bptr(b bool) *bool { return &b }

var sample = []Result{
	{Server: "almanac", Scenario: "put", N: 100, C: 32, Throughput: 3000},
	{Server: "radicale", Scenario: "put", N: 100, C: 32, Throughput: 25},
	{Server: "xandikos", Scenario: "put", N: 100, C: 32, Throughput: 30},
	{Server: "almanac", Scenario: "query", N: 10000, C: 1, Summary: Summary{Count: 3, P50: 2}, Got: 5, Want: 5, Correct: bptr(true)},
	{Server: "radicale", Scenario: "query", N: 10000, C: 1, Summary: Summary{Count: 3, P50: 700}, Got: 5, Want: 5, Correct: bptr(true)},
	{Server: "xandikos", Scenario: "query", N: 10000, C: 1, Summary: Summary{Count: 3, P50: 6000}, Got: 3, Want: 5, Correct: bptr(false)},
	{Server: "almanac", Scenario: "rss", N: 100000, RSSKB: 200 * 1024},
}

func TestCompare(t *testing.T) {
	got := Compare(sample, "radicale")
	for _, want := range []string{
		"| put | 100 | 32 | PUT/s | 3000 | 25.0 | 30.0 | 120× | 1.20× |",
		"| query | 10000 | 1 | p50 ms | 2.00 | 700 | 6000 ✗ (3/5) | 350× | 0.12× |",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("table lacks row\n%s\ngot:\n%s", want, got)
		}
	}
}

func TestCheckTargets(t *testing.T) {
	checks := map[string]TargetCheck{}
	for _, tc := range CheckTargets(sample, "almanac", 10000) {
		checks[strings.Fields(tc.Goal)[0]] = tc
	}
	if tc := checks["durable"]; !tc.Known || !tc.Met || !strings.Contains(tc.Figure, "xandikos") {
		t.Errorf("PUT target judged against the faster peer: %+v", tc)
	}
	if tc := checks["one-month"]; !tc.Known || !tc.Met || !strings.Contains(tc.Figure, "radicale") {
		t.Errorf("query at 350× the faster peer (radicale) with the right answer must be met: %+v", tc)
	}
	if tc := checks["server"]; !tc.Known || tc.Met {
		t.Errorf("RSS of 200 MB must miss the 150 MB target: %+v", tc)
	}
	if tc := checks["PROPFIND"]; tc.Known {
		t.Errorf("PROPFIND was not measured but was judged: %+v", tc)
	}
}

// TestFlatSyncEverySize: a size in the middle that is 4.4× the fastest
// fails the flat target even when the smallest and largest are close.
func TestFlatSyncEverySize(t *testing.T) {
	rs := []Result{
		{Server: "almanac", Scenario: "sync-nochange", N: 1000, Summary: Summary{Count: 20, P50: 0.22}},
		{Server: "almanac", Scenario: "sync-nochange", N: 10000, Summary: Summary{Count: 20, P50: 0.97}},
		{Server: "almanac", Scenario: "sync-nochange", N: 100000, Summary: Summary{Count: 20, P50: 0.23}},
		{Server: "almanac", Scenario: "sync-incremental", N: 1000, Summary: Summary{Count: 20, P50: 0.29}},
		{Server: "almanac", Scenario: "sync-incremental", N: 100000, Summary: Summary{Count: 20, P50: 0.50}},
		{Server: "radicale", Scenario: "sync-nochange", N: 1000, Summary: Summary{Count: 20, P50: 0.01}},
	}
	got := map[string]TargetCheck{}
	for _, tc := range flatSync(rs, "almanac") {
		got[strings.Fields(tc.Goal)[0]] = tc
	}
	if tc := got["sync-nochange"]; !tc.Known || tc.Met || !strings.Contains(tc.Figure, "N=10000 0.97 ms") {
		t.Errorf("no-change sync 4.4× slower at 10k must miss: %+v", tc)
	}
	if tc := got["sync-incremental"]; !tc.Known || !tc.Met {
		t.Errorf("incremental sync within 2× at both sizes must be met: %+v", tc)
	}
}

// TestCompareMemoryDisk: `make bench-compare` reports each server's memory,
// split into anonymous and file pages, and data directory next to the
// peers', lower being better.
func TestCompareMemoryDisk(t *testing.T) {
	rs := []Result{
		{Server: "almanac", Scenario: "rss", N: 1000, RSSKB: 64 * 1024},
		{Server: "radicale", Scenario: "rss", N: 1000, RSSKB: 32 * 1024},
		{Server: "almanac", Scenario: "disk", N: 1000, DiskBytes: 10 << 20},
		{Server: "radicale", Scenario: "disk", N: 1000, DiskBytes: 5 << 20},
	}
	rs = append(rs, rssParts("almanac", 1000, ProcMem{AnonKB: 20 * 1024, FileKB: 22 * 1024})...)
	rs = append(rs, rssParts("radicale", 1000, ProcMem{AnonKB: 25 * 1024, FileKB: 7 * 1024})...)
	got := Compare(rs, "radicale")
	for _, want := range []string{
		"| rss | 1000 | 0 | RSS MB | 64.0 | 32.0 | 0.50× |",
		"| disk | 1000 | 0 | data dir MB | 10.0 | 5.00 | 0.50× |",
		"| rss-anon | 1000 | 0 | anon RSS MB | 20.0 | 25.0 | 1.25× |",
		"| rss-file | 1000 | 0 | file RSS MB | 22.0 | 7.00 | 0.32× |",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("table lacks row\n%s\ngot:\n%s", want, got)
		}
	}
}

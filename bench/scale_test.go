package bench

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestScaleSmoke runs the scale benchmark at two tiny sizes against
// almanac built from this tree: every step must import, serve, sync
// exactly the changed objects and PUT without an error, the size in
// plan.Full also verify, rebuild and back up (the other not), each
// offline command with its peak RSS, and the
// store must hold what was imported, in chunks of 3 objects (one per
// user) an import. It takes ~30 s under load (two imports, two server
// starts, and verify, rebuild and backup once: the fewest steps that run
// every one of them); it stays that small at every test scale.
func TestScaleSmoke(t *testing.T) {
	t.Parallel()
	bin := buildAlmanac(t)
	var got []Result
	plan := ScalePlan{Bin: bin, Sizes: []int{6, 12}, Users: 3, Rounds: 2, PutN: 3, LoadN: 4, LoadC: 2,
		Flags: []string{"--memory-budget=33554432"}, ImportChunk: 3, Full: []int{12}}
	if err := RunScale(context.Background(), plan, t.TempDir(), func(r Result) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	full := []string{"scale-verify", "scale-rebuild", "scale-backup"}
	seen := map[string]int{}
	for _, r := range got {
		t.Log(r.String())
		seen[r.Scenario]++
		if r.Errors > 0 || (r.Correct != nil && !*r.Correct) {
			t.Errorf("%s at %d: %d errors (%s), correct %v", r.Scenario, r.N, r.Errors, r.FirstError, r.Correct)
		}
		if r.Scenario == "scale-put-load" && (r.Ops != 4 || !strings.Contains(r.Note, "CPU-µs")) {
			t.Errorf("put load at %d: %d PUTs, note %q", r.N, r.Ops, r.Note)
		}
		if (r.Scenario == "scale-import" || slices.Contains(full, r.Scenario)) && r.HWMKB <= 0 {
			t.Errorf("%s at %d: no peak RSS of the command", r.Scenario, r.N)
		}
		if strings.HasPrefix(r.Scenario, "scale-") && slices.Contains(full, r.Scenario) && r.N != 12 {
			t.Errorf("%s at %d, a size not in plan.Full", r.Scenario, r.N)
		}
		if r.Scenario == "sync-initial" && r.Want != r.N/3*r.Count {
			t.Errorf("initial sync at %d: wants %d names in %d rounds, the calendar holds %d", r.N, r.Want, r.Count, r.N/3)
		}
	}
	for _, sc := range []string{"scale-import", "scale-start", "scale-feed-catchup", "sync-initial", "sync-incremental", "sync-nochange",
		"scale-put", "scale-put-load", "rss", "disk"} {
		if seen[sc] != 2 {
			t.Errorf("%s: %d results, want one per size", sc, seen[sc])
		}
	}
	for _, sc := range full {
		if seen[sc] != 1 {
			t.Errorf("%s: %d results, want one, at the size in plan.Full", sc, seen[sc])
		}
	}
}

package bench

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"
)

// tinyPlan runs every scenario at N=20, C=2.
var tinyPlan = Plan{
	PutN: 20, PutC: []int{2}, PutBudget: time.Minute,
	Sizes: []int{20}, ReadBudget: time.Minute,
	MixedC: 2, MixedTime: 2 * time.Second, Rounds: 2,
}

// runSmoke runs tinyPlan against s and checks the tool, never timings:
// every scenario completes with zero errors, the JSON lines parse, and
// the counts are right. strictExpand also requires the expanded query
// answer to be right.
func runSmoke(t *testing.T, s *Server, loader Loader, strictExpand bool) {
	t.Helper()
	var buf bytes.Buffer
	c := NewClient(s.Target, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	Run(ctx, c, loader, tinyPlan, func(r Result) {
		if err := r.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		t.Log(r.String())
	})
	results, err := ReadResults(&buf)
	if err != nil {
		t.Fatalf("JSON lines do not parse: %v", err)
	}
	seen := map[string]bool{}
	for _, r := range results {
		seen[r.Scenario] = true
		if r.Errors != 0 {
			t.Errorf("%s: %d errors, first: %s", r.Scenario, r.Errors, r.FirstError)
		}
		if r.Partial {
			t.Errorf("%s: stopped by its budget at N=20", r.Scenario)
		}
		if r.Scenario == "query-expand" && !strictExpand {
			continue
		}
		if r.Correct != nil && !*r.Correct {
			t.Errorf("%s: got %d, want %d", r.Scenario, r.Got, r.Want)
		}
		if (r.Scenario == "put" || r.Scenario == "vcard-put") && r.Ops != 20 {
			t.Errorf("%s: %d objects written, want 20", r.Scenario, r.Ops)
		}
	}
	for _, want := range []string{"put", "vcard-put", "load", "propfind", "query", "query-expand",
		"multiget", "sync-initial", "sync-incremental", "sync-nochange", "mixed", "rss"} {
		if !seen[want] {
			t.Errorf("no result for scenario %s", want)
		}
	}
	// The fresh footprint loads a calendar of its own (30 events: the
	// plan's sizes already have theirs) and must sync all of it.
	fresh, err := FreshFootprint(ctx, c, loader, 30, 0)
	if err != nil {
		t.Fatalf("fresh footprint: %v", err)
	}
	got := map[string]bool{}
	for _, r := range fresh {
		t.Log(r.String())
		if r.Errors != 0 {
			t.Errorf("%s: %s", r.Scenario, r.FirstError)
		}
		got[r.Scenario] = r.RSSKB > 0 || r.DiskBytes > 0
	}
	for _, want := range []string{"fresh-rss", "fresh-rss-anon", "fresh-disk"} {
		if !got[want] {
			t.Errorf("fresh footprint: no %s figure (got %v)", want, got)
		}
	}
}

func TestSmokeRadicale(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("radicale"); err != nil {
		t.Skip("radicale is not installed (apt-get install radicale): skipping the Radicale smoke test")
	}
	s, err := StartRadicale(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	runSmoke(t, s, RadicaleLoader(s), false)
}

func TestSmokeXandikos(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("xandikos"); err != nil {
		t.Skip("xandikos is not installed (apt-get install xandikos): skipping the Xandikos smoke test")
	}
	s, err := StartXandikos(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	runSmoke(t, s, XandikosLoader(s), false)
}

package bench

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/almanac/almanac/internal/testbin"
)

// TestSmokeAlmanac builds cmd/almanac from this tree and runs every
// scenario against it at N=20, C=2. Almanac must also get the expanded
// query right.
func TestSmokeAlmanac(t *testing.T) {
	t.Parallel()
	bin := buildAlmanac(t)
	s, err := StartAlmanac(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			if log, err := os.ReadFile(s.LogPath()); err == nil {
				t.Logf("server log:\n%.4000s", log)
			}
		}
		s.Stop()
	}()
	runSmoke(t, s, HTTPLoader{C: 4}, true)
}

// TestSmokeAlmanacFeed checks the feed scenario end to end: every PUT
// reaches a gRPC subscriber and a NATS subscriber.
func TestSmokeAlmanacFeed(t *testing.T) {
	t.Parallel()
	bin := buildAlmanac(t)
	s, err := StartAlmanacFeed(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	results, err := RunFeed(ctx, NewClient(s.Target, 4), s.Feed, Config{N: 20, C: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(results), 2; got != want {
		t.Fatalf("%d feed results, want %d (gRPC and NATS)", got, want)
	}
	for _, r := range results {
		t.Log(r.String())
		if r.Errors != 0 || r.Ops != 20 {
			t.Errorf("%s: %d of 20 changes seen, %d errors, first: %s", r.Scenario, r.Ops, r.Errors, r.FirstError)
		}
	}
}

// buildAlmanac builds cmd/almanac from this tree, once for every test of
// the package (testbin), or skips when the tree has none yet.
func buildAlmanac(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("../cmd/almanac"); err != nil {
		t.Skip("cmd/almanac is not in this tree yet: skipping the Almanac smoke test")
	}
	if _, err := exec.LookPath("htpasswd"); err != nil {
		t.Skip("htpasswd is not installed (apt-get install apache2-utils): skipping the Almanac smoke test")
	}
	return testbin.Build(t, "../cmd/almanac")
}

package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSmokeAlmanac builds cmd/almanac from this tree and runs every
// scenario against it at N=20, C=2. Almanac must also get the expanded
// query right.
func TestSmokeAlmanac(t *testing.T) {
	if _, err := os.Stat("../cmd/almanac"); err != nil {
		t.Skip("cmd/almanac is not in this tree yet: skipping the Almanac smoke test")
	}
	if _, err := exec.LookPath("htpasswd"); err != nil {
		t.Skip("htpasswd is not installed (apt-get install apache2-utils): skipping the Almanac smoke test")
	}
	bin := filepath.Join(t.TempDir(), "almanac")
	build := exec.Command("go", "build", "-o", bin, "./cmd/almanac")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build almanac: %v\n%s", err, out)
	}
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

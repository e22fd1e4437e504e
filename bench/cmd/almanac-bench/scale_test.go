package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/almanac/almanac/bench"
)

// TestReplaceScaleSection checks that scale-report --into replaces the
// scale section at the end of a report and keeps everything before it,
// byte for byte as compare would join them, and appends the section to a
// report without one.
func TestReplaceScaleSection(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "RESULTS.md")
	head := "# Results\n\nfigures\n"
	old := bench.ScaleHeading + "\n\nold table\n"
	neu := bench.ScaleHeading + "\n\nnew table\n"
	for _, tc := range []struct{ name, before string }{
		{"with a section", head + "\n" + old},
		{"without one", head},
	} {
		if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := replaceScaleSection(path, []byte(neu)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := head + "\n" + neu; string(got) != want {
			t.Errorf("%s: got %q, want %q", tc.name, got, want)
		}
	}
}

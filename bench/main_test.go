package bench

import (
	"os"
	"testing"
)

// TestMain removes the almanac binary the smoke tests share once they are
// done.
func TestMain(m *testing.M) {
	code := m.Run()
	if almanacBuild.dir != "" {
		os.RemoveAll(almanacBuild.dir)
	}
	os.Exit(code)
}

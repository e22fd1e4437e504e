package bench

import (
	"os"
	"testing"

	"github.com/almanac/almanac/internal/testbin"
)

// TestMain removes the almanac binary the smoke tests share once they are
// done. The smoke tests check the tool, not memory: they read it without
// FootprintSettle's pause.
func TestMain(m *testing.M) {
	FootprintSettle = 0
	code := m.Run()
	testbin.RemoveAll()
	os.Exit(code)
}

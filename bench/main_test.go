package bench

import (
	"os"
	"testing"

	"github.com/almanac/almanac/internal/testbin"
)

// TestMain removes the almanac binary the smoke tests share once they are
// done.
func TestMain(m *testing.M) {
	code := m.Run()
	testbin.RemoveAll()
	os.Exit(code)
}

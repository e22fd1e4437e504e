package clustertest

import (
	"os"
	"testing"

	"github.com/almanac/almanac/internal/testbin"
	"github.com/almanac/almanac/internal/testport"
)

// TestMain removes the almanac binary the tests built and the nodes'
// htpasswd file.
func TestMain(m *testing.M) {
	code := m.Run()
	testbin.RemoveAll()
	if htpasswdDir != "" {
		os.RemoveAll(htpasswdDir)
	}
	os.Exit(code)
}

// almanacBinary returns the almanac binary the package's tests share,
// built from this tree the first time.
func almanacBinary(t testing.TB) string {
	t.Helper()
	return testbin.Build(t, "..")
}

// freeAddrs returns n addresses on loopback whose ports nothing listens
// on, held for the test (testport): the nodes bind them, and bind them
// again when they restart after a kill, while no other process may take
// them.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	return testport.Addrs(t, n)
}

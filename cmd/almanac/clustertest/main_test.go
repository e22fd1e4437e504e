package clustertest

import (
	"fmt"
	"os"
	"testing"

	"github.com/almanac/almanac/internal/natstest"
	"github.com/almanac/almanac/internal/testbin"
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

// freeAddrs returns n addresses on loopback whose ports were free a
// moment ago.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprint("127.0.0.1:", natstest.FreePort(t))
	}
	return addrs
}

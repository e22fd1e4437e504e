package engine

import (
	"os"
	"testing"
)

// TestMain removes the databases filledDB built for the benchmarks once
// they all ran: each holds 100+ MB in the system's temporary directory,
// and left behind by every benchmark run they filled the disk. It closes
// the catch-up tests' writing node too.
func TestMain(m *testing.M) {
	code := m.Run()
	if bulk.a != nil {
		_ = bulk.a.Close()
	}
	for _, db := range filled {
		_ = db.Close()
		_ = os.RemoveAll(db.dir)
	}
	os.Exit(code)
}

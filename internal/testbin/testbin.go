// Package testbin builds a command of this module once for all the tests
// of a test binary, which then run it as child processes: the cluster's
// kill tests and the benchmark's smoke tests start real `almanac serve`
// processes. The command is built with the race detector when the tests
// are, which also reuses the packages `go test -race` compiled instead of
// building them all again without it.
//
// Only tests import this package; their TestMain calls RemoveAll.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	mu     sync.Mutex
	dir    string              // the temporary directory of every build
	builds = map[string]*bin{} // by the package directory
)

type bin struct {
	once sync.Once
	path string
	err  error
}

// Build builds the main package in pkgDir (a directory, relative to the
// test's working directory) the first time it is asked for and returns
// the path of the executable; it fails tb when the build does.
func Build(tb testing.TB, pkgDir string) string {
	tb.Helper()
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		tb.Fatal(err)
	}
	mu.Lock()
	if dir == "" {
		if dir, err = os.MkdirTemp("", "almanac-testbin-"); err != nil {
			mu.Unlock()
			tb.Fatal(err)
		}
	}
	b := builds[abs]
	if b == nil {
		b = &bin{path: filepath.Join(dir, fmt.Sprint(filepath.Base(abs), "-", len(builds)))}
		builds[abs] = b
	}
	mu.Unlock()
	b.once.Do(func() {
		args := []string{"build", "-o", b.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		build := exec.Command("go", append(args, ".")...)
		build.Dir = abs
		if out, err := build.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("testbin: build %s: %w\n%s", pkgDir, err, out)
		}
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}

// RemoveAll removes what Build built; TestMain calls it after the tests.
func RemoveAll() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
	}
}

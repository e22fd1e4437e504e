package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/almanac/almanac/engine"
)

// errDataDirInUse is returned when another process holds the data directory.
var errDataDirInUse = errors.New("the data directory is in use by a running server")

// openDB opens the engine in dataDir/db, creating dataDir if needed, and
// turns Pebble's lock error into errDataDirInUse.
func openDB(dataDir string, opts *engine.Options) (*engine.DB, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	dir := filepath.Join(dataDir, "db")
	db, err := engine.Open(dir, opts)
	if err != nil {
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) || strings.Contains(err.Error(), "lock held") {
			return nil, fmt.Errorf("%w (%s): stop it first", errDataDirInUse, dataDir)
		}
		return nil, fmt.Errorf("open database %s: %w", dir, err)
	}
	return db, nil
}

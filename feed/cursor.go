package feed

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/almanac/almanac/engine"
)

// readCursor reads the publisher's cursor: the last seq that JetStream
// acknowledged, with every seq before it. A missing file is seq 0.
func readCursor(path string) (engine.Seq, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("feed: read cursor: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("feed: cursor file %s: %w", path, err)
	}
	return engine.Seq(n), nil
}

// writeCursor replaces the cursor file atomically: write a temporary file,
// fsync it, rename it over the old one, fsync the directory.
func writeCursor(path string, seq engine.Seq) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".nats-cursor-*")
	if err != nil {
		return fmt.Errorf("feed: write cursor: %w", err)
	}
	tmp := f.Name()
	_, err = f.WriteString(strconv.FormatUint(uint64(seq), 10) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("feed: write cursor: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("feed: write cursor: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("feed: write cursor: sync %s: %w", dir, err)
	}
	return nil
}

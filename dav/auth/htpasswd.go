package auth

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// htpasswdFile is an Apache htpasswd file, reread when its size or
// modification time changes. Entries are kept as raw hash strings, so that
// the hash can be part of the verification cache key.
type htpasswdFile struct {
	path string

	mu      sync.Mutex
	size    int64
	modTime time.Time
	loaded  bool
	entries map[string]string // user -> hash
	classes hashClasses       // of entries
}

// lookup returns the stored hash of user, rereading the file first if it
// changed. ok is false when the user has no entry. A file that cannot be
// read keeps the last good contents and returns the error.
func (f *htpasswdFile) lookup(user string) (hash string, ok bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refreshLocked(); err != nil {
		if !f.loaded {
			return "", false, err
		}
		// Keep serving the last good version; the caller logs err.
		h, ok := f.entries[user]
		return h, ok, err
	}
	h, ok := f.entries[user]
	return h, ok, nil
}

// reload rereads the file now, even when its size and modification time
// look unchanged. A file that cannot be read keeps the last good contents
// and returns the error.
func (f *htpasswdFile) reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.size = -1 // no file has this size: refreshLocked rereads
	return f.refreshLocked()
}

func (f *htpasswdFile) refreshLocked() error {
	st, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("auth: htpasswd: %w", err)
	}
	if f.loaded && st.Size() == f.size && st.ModTime().Equal(f.modTime) {
		return nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("auth: htpasswd: %w", err)
	}
	f.entries = parseHtpasswd(data)
	f.classes = hashClasses{}
	for _, h := range f.entries {
		f.classes.add(h)
	}
	f.size, f.modTime, f.loaded = st.Size(), st.ModTime(), true
	return nil
}

// hashClassesOf returns the hash classes of the file's entries as of its
// last read.
func (f *htpasswdFile) hashClassesOf() hashClasses {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.classes
}

// parseHtpasswd reads "user:hash" lines. Blank lines, comments, lines
// without a colon and entries with an empty user are skipped; a later
// entry for the same user wins. An entry with an empty hash disables the
// user.
func parseHtpasswd(data []byte) map[string]string {
	entries := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			continue
		}
		// An empty hash is kept: it overrides an earlier entry of the
		// user and never matches (verifyHash).
		entries[user] = hash
	}
	return entries
}

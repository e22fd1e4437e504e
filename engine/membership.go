package engine

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/almanac/almanac/engine/internal/keys"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// maxGroupCacheBytes bounds the group lists groupCache keeps (their
// encoded size; decoded they take about twice as much).
const maxGroupCacheBytes = 2 << 20

// groupCache keeps the decoded group lists (the j<user> records) that
// privilege resolution reads for a delegation through a group, keyed by
// user and checked against the record's bytes on every read: a user's
// groups are decoded once, not on every request, and a changed record (a
// member joining or leaving a group) misses and is decoded again, so
// nothing stale is ever answered. Past maxGroupCacheBytes it starts over.
type groupCache struct {
	mu    sync.Mutex
	m     map[string]groupEntry
	bytes int
}

type groupEntry struct {
	raw   []byte
	names []string // sorted; shared, never modified
}

// groupsOf returns the groups user is a member of in the state r reads,
// sorted. The slice is shared: callers must not modify it.
func (c *groupCache) groupsOf(r getter, user string) ([]string, error) {
	raw, closer, err := r.Get(keys.MemberOfKey(user))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("engine: groups of %q: %w", user, err)
	}
	defer closer.Close()
	c.mu.Lock()
	e, ok := c.m[user]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.names, nil
	}
	n := &statev1.Names{}
	if err := proto.Unmarshal(raw, n); err != nil {
		return nil, fmt.Errorf("engine: decode the groups of %q: %w", user, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.bytes+len(raw) > maxGroupCacheBytes {
		c.m, c.bytes = map[string]groupEntry{}, 0
	}
	c.bytes += len(raw) - len(c.m[user].raw)
	c.m[user] = groupEntry{raw: bytes.Clone(raw), names: n.Names}
	return n.Names, nil
}

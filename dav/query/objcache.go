package query

import (
	"bytes"
	"hash/maphash"
	"sync"
)

// DefaultObjectCache is the default of Limits.ObjectCache: the bytes of
// parsed calendar objects kept between queries.
const DefaultObjectCache = 8 << 20

// parsedCost estimates the memory one parsed object holds: its go-ical
// and Node trees measured 9.6–12.5× the body's size (the bench tool's
// events, 1.0–1.5 KB, each with a VTIMEZONE: 10.5–17.9 KB live), plus
// the copy of the body the cache keeps to compare, plus the entry.
func parsedCost(body []byte) int64 { return int64(len(body))*14 + 256 }

// ObjectCache keeps parsed calendar objects between queries, keyed by
// their content (never stale: an entry is found only for the same bytes),
// within a byte budget. A time-range query over a month parses every
// recurring series that reaches the month on every request; the parse
// was about half of what such a query costs.
//
// Eviction is random (Go's map order), not LRU: a query reads its
// candidates in the same order every time, and an LRU smaller than that
// set would miss on every one of them, where random eviction keeps a
// share of them. A nil *ObjectCache parses every time.
type ObjectCache struct {
	max  int64
	seed maphash.Seed

	mu      sync.Mutex
	used    int64
	entries map[uint64]*cachedObject
}

type cachedObject struct {
	body []byte
	obj  *CalendarObject
	cost int64
}

// NewObjectCache returns a cache holding up to maxBytes (estimated) of
// parsed objects; nil when maxBytes is not positive.
func NewObjectCache(maxBytes int64) *ObjectCache {
	if maxBytes <= 0 {
		return nil
	}
	return &ObjectCache{max: maxBytes, seed: maphash.MakeSeed(), entries: map[uint64]*cachedObject{}}
}

// Parse returns body parsed, as ParseCalendarObject does, from the cache
// when the same bytes were parsed before. The result is shared: callers
// only read it (every reader in this package builds new nodes for its
// output). Errors are not cached.
func (c *ObjectCache) Parse(body []byte) (*CalendarObject, error) {
	if c == nil {
		return ParseCalendarObject(body)
	}
	h := maphash.Bytes(c.seed, body)
	c.mu.Lock()
	e := c.entries[h]
	c.mu.Unlock()
	if e != nil && bytes.Equal(e.body, body) {
		return &CalendarObject{Body: body, cal: e.obj.cal, root: e.obj.root, nodes: e.obj.nodes, prep: e.obj.prep}, nil
	}
	obj, err := ParseCalendarObject(body)
	if err != nil {
		return nil, err
	}
	cost := parsedCost(body)
	if cost > c.max/8 { // one object never takes much of the cache
		return obj, nil
	}
	keep := &cachedObject{body: bytes.Clone(body), obj: &CalendarObject{cal: obj.cal, root: obj.root, nodes: obj.nodes, prep: obj.prep}, cost: cost}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[h]; old != nil {
		c.used -= old.cost
		delete(c.entries, h)
	}
	for k, v := range c.entries {
		if c.used+cost <= c.max {
			break
		}
		c.used -= v.cost
		delete(c.entries, k)
	}
	c.entries[h] = keep
	c.used += cost
	return obj, nil
}

// Size returns the estimated bytes held and the number of objects.
func (c *ObjectCache) Size() (bytes int64, objects int) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used, len(c.entries)
}

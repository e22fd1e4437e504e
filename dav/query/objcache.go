package query

import (
	"bytes"
	"sync"

	"github.com/almanac/almanac/engine/recur"
)

// DefaultObjectCache is the default of Limits.ObjectCache: the bytes of
// parsed calendar objects kept between queries.
const DefaultObjectCache = 8 << 20

// parsedCost estimates the memory one parsed object holds: its go-ical
// and Node trees measured 9.6–12.5× the body's size (the bench tool's
// events, 1.0–1.5 KB, each with a VTIMEZONE: 10.5–17.9 KB live), plus
// the copy of the body the cache keeps (in the 14), plus the entry; a
// recurring object also the last expansion its recur.Prepared remembers.
func parsedCost(v Version, body []byte) int64 {
	cost := int64(len(body))*13 + bodyCost(v, body)
	if bytes.Contains(body, []byte("RRULE")) || bytes.Contains(body, []byte("RDATE")) {
		cost += recur.MemoBytes
	}
	return cost
}

// bodyCost estimates the memory of an entry that keeps only a body: the
// copy, the key's strings and the entry.
func bodyCost(v Version, body []byte) int64 {
	return int64(len(body)+len(v.Coll)+len(v.Name)+len(v.ETag)) + 256
}

// Version names one stored version of a calendar object: its collection
// and name, and the log sequence number and ETag of the event that wrote
// it (engine.Object's Seq and ETag). Every write of an object (a new
// body, new dead properties, a move or copy) is a new event with a new
// Seq and ETag, and a log record never changes: a Version has one body,
// so a cache keyed by it is never stale.
type Version struct {
	Coll, Name, ETag string
	Seq              uint64
}

// ObjectCache keeps calendar objects between queries, keyed by their
// Version, within a byte budget: parsed (a time-range query over a month
// parses every recurring series that reaches the month on every request;
// the parse was about half of what such a query costs), or as their body
// alone (free-busy reads a single event from its bytes). With the body
// kept, a query need not read it from the store again: reading each
// candidate's record and body was ~80% of a free-busy lookup's CPU.
//
// Eviction is random (Go's map order), not LRU: a query reads its
// candidates in the same order every time, and an LRU smaller than that
// set would miss on every one of them, where random eviction keeps a
// share of them. A nil *ObjectCache parses every time and keeps nothing.
type ObjectCache struct {
	max int64

	mu      sync.Mutex
	used    int64
	entries map[entryKey]*cachedObject
	// spacings are the recurring series' instance spacings (spacing.go),
	// within max/spacingShare bytes besides the objects' max.
	spacingUsed int64
	spacings    map[spacingKey]recur.Spacing
}

// entryKey is the part of a Version the map hashes; the entry holds the
// rest, compared on a hit (hashing the collection's path and the ETag
// was ~15% of a free-busy lookup).
type entryKey struct {
	seq  uint64
	name string
}

type cachedObject struct {
	coll, etag string
	body       []byte
	obj        *CalendarObject // nil for a body kept alone (KeepBody)
	cost       int64
}

// NewObjectCache returns a cache holding up to maxBytes (estimated) of
// objects; nil when maxBytes is not positive.
func NewObjectCache(maxBytes int64) *ObjectCache {
	if maxBytes <= 0 {
		return nil
	}
	return &ObjectCache{max: maxBytes, entries: map[entryKey]*cachedObject{}, spacings: map[spacingKey]recur.Spacing{}}
}

// lookup returns the entry of v, nil when none.
func (c *ObjectCache) lookup(v Version) *cachedObject {
	c.mu.Lock()
	e := c.entries[entryKey{v.Seq, v.Name}]
	c.mu.Unlock()
	if e == nil || e.coll != v.Coll || e.etag != v.ETag {
		return nil
	}
	return e
}

// Get returns the body kept for v and, when it was parsed, the parsed
// object (nil otherwise); ok is false when v is not kept. Both are
// shared: callers only read them.
func (c *ObjectCache) Get(v Version) (body []byte, obj *CalendarObject, ok bool) {
	if c == nil {
		return nil, nil, false
	}
	e := c.lookup(v)
	if e == nil {
		return nil, nil, false
	}
	return e.body, e.copyObject(), true
}

// copyObject is a CalendarObject sharing e's parsed trees; nil when e
// keeps a body alone.
func (e *cachedObject) copyObject() *CalendarObject {
	if e.obj == nil {
		return nil
	}
	return &CalendarObject{Body: e.body, cal: e.obj.cal, root: e.obj.root, nodes: e.obj.nodes, prep: e.obj.prep}
}

// Parse returns body, the body of version v, parsed as
// ParseCalendarObject does, from the cache when v was parsed before, and
// keeps it there. The result is shared: callers only read it (every
// reader in this package builds new nodes for its output). An entry
// whose bytes differ from body (which the store never makes: see
// Version) is parsed anew and replaced. Errors are not cached.
func (c *ObjectCache) Parse(v Version, body []byte) (*CalendarObject, error) {
	if c == nil {
		return ParseCalendarObject(body)
	}
	if e := c.lookup(v); e != nil && e.obj != nil && bytes.Equal(e.body, body) {
		return e.copyObject(), nil
	}
	obj, err := ParseCalendarObject(body)
	if err != nil {
		return nil, err
	}
	keep := bytes.Clone(body)
	c.put(v, &cachedObject{coll: v.Coll, etag: v.ETag, body: keep, obj: &CalendarObject{cal: obj.cal, root: obj.root, nodes: obj.nodes, prep: obj.prep}, cost: parsedCost(v, body)}, true)
	return obj, nil
}

// KeepBody keeps body, the body of version v, unparsed, so that a later
// query over v need not read it from the store. It makes no room: a body
// is cheaper to read again than an evicted parsed object is to parse.
func (c *ObjectCache) KeepBody(v Version, body []byte) {
	if c == nil {
		return
	}
	if c.lookup(v) != nil {
		return
	}
	c.put(v, &cachedObject{coll: v.Coll, etag: v.ETag, body: bytes.Clone(body), cost: bodyCost(v, body)}, false)
}

// put keeps e under v, evicting random entries to make room when evict
// is set, and dropping e when it does not fit. One entry never takes more
// than an eighth of the budget.
func (c *ObjectCache) put(v Version, e *cachedObject, evict bool) {
	if e.cost > c.max/8 {
		return
	}
	k := entryKey{v.Seq, v.Name}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[k]; old != nil {
		c.used -= old.cost
		delete(c.entries, k)
	}
	for old, x := range c.entries {
		if !evict || c.used+e.cost <= c.max {
			break
		}
		c.used -= x.cost
		delete(c.entries, old)
	}
	if c.used+e.cost > c.max {
		return
	}
	c.entries[k] = e
	c.used += e.cost
}

// Size returns the estimated bytes held (objects and spacings) and the
// number of objects.
func (c *ObjectCache) Size() (bytes int64, objects int) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used + c.spacingUsed, len(c.entries)
}

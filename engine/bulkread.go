package engine

import (
	"bytes"
	"cmp"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/almanac/almanac/engine/internal/keys"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/cockroachdb/pebble/v2"
)

// ObjectsIn reads the named objects of collection c, which must come from
// this view, for a multiget: the result is aligned with names, nil where a
// name does not exist (a name given twice gets the same Object twice).
//
// The records are read in one ordered pass of an iterator, then the
// bodies in log order with a second one: far cheaper than a point read
// per name, each of which builds an iterator over every level. The
// Objects share one allocation, and so do the bodies (each copied once,
// out of the log record, into one buffer sized by the records' sizes).
// Names and bodies are read in key order, stepping from one to the next
// when they follow each other closely (a body: when it is the next
// record of the log), as a client's batches of names from a listing do.
//
// The Objects, the result and the bodies live in s, which a caller that
// is done with them may pass again (nil allocates a new one): a
// multiget's hundred Objects then cost no allocation, and their strings
// share an allocation or two that s does not keep (they stay valid).
func (v *View) ObjectsIn(c *Collection, names []string, withBody bool, s *BulkScratch) ([]*Object, error) {
	if s == nil {
		s = new(BulkScratch)
	}
	order := grown(s.order, len(names)) // indices of names in name order
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	s.order = order
	it, err := v.prefixIter(keys.Obj, c.ID)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := grown(s.out, len(names))
	clear(out)
	slab := grown(s.slab, len(names))
	clear(slab)
	found := s.found[:0]
	s.out, s.slab = out, slab
	key := keys.IDPrefix(keys.Obj, c.ID)
	plen := len(key)
	size := 0
	var strs []byte // the records' strings (decodeObjectArena), never reused
	chunk := min(strsChunk*len(names), 32<<10)
	for j, i := range order {
		name := names[i]
		if j > 0 && names[order[j-1]] == name {
			out[i] = out[order[j-1]]
			continue
		}
		key = append(key[:plen], name...)
		if !stepGE(it, key) || !bytes.Equal(it.Key(), key) {
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("engine: read object %s: %w", name, err)
		}
		o := &slab[i]
		if err := decodeObjectArena(o, name, val, &strs, chunk); err == errHasDead { // rare: the generic path
			if o, err = listObject(name, val); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
		out[i] = o
		found = append(found, o)
		size += int(o.Size)
	}
	s.found = found
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("engine: object iterator: %w", err)
	}
	if !withBody || len(found) == 0 {
		return out, nil
	}
	slices.SortFunc(found, func(a, b *Object) int { return cmp.Compare(a.bodySeq, b.bodySeq) })
	bodies, err := v.bodyReader()
	if err != nil {
		return nil, err
	}
	defer bodies.close()
	bodies.ascending = true
	buf := slices.Grow(s.Bodies[:0], size)
	for _, o := range found {
		start := len(buf)
		if buf, err = bodies.appendBody(buf, o.bodySeq); err != nil {
			return nil, err
		}
		o.Body = buf[start:len(buf):len(buf)]
	}
	s.Bodies = buf[:0]
	return out, nil
}

// strsChunk is the room ObjectsIn gives the strings of each object record
// (ETag, UID, schedule tag) in its arena: 42 bytes for the benchmarks' 1 KB
// events; longer ones take a second chunk.
const strsChunk = 48

// BulkScratch holds what ObjectsIn reads into: the Objects, the slices of
// the result and the bodies' buffer. The zero value is ready; a caller
// that reads again once done with a result passes the same one (a pool
// of them can drop one whose Bodies has grown large).
type BulkScratch struct {
	// Bodies is the buffer the bodies were read into, emptied.
	Bodies []byte
	slab   []Object
	out    []*Object
	order  []int
	found  []*Object
}

// grown returns s resliced to n elements, reallocated when it has less
// room; its contents are left as they were.
func grown[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// nextTries is how many keys stepGE steps over before it seeks instead.
const nextTries = 8

// stepGE positions it at the first key at or after key, like SeekGE, for
// an iterator that a previous stepGE (or none) positioned at a key before
// key: when key is at most nextTries keys ahead it gets there by Next,
// several times cheaper than a seek through every level.
func stepGE(it *pebble.Iterator, key []byte) bool {
	if !it.Valid() {
		return it.SeekGE(key)
	}
	for range nextTries {
		if bytes.Compare(it.Key(), key) >= 0 {
			return true
		}
		if !it.Next() {
			break
		}
	}
	return it.SeekGE(key)
}

// ObjectsReused streams the objects of the collection at path in name
// order, as Objects does without a time range, for a caller that is done
// with each object before it asks for the next (a listing written out as
// it is read): every member comes in the same *Object, overwritten by the
// next one, and so is its Body (read when withBody is set). Its strings
// stay valid. A missing collection yields ErrNotFound once.
//
// Per member it allocates one string (name, ETag and UID together),
// where Objects allocates the Object, its strings and its body: a
// PROPFIND or sync-collection of 10,000 members made 40,000 allocations.
func (v *View) ObjectsReused(path string, withBody bool) iter.Seq2[*Object, error] {
	return v.objectsReused(path, withBody, false)
}

// listing opens what a listing of the collection at path reads: the
// iterator over its object records and, when withBody is set, the body
// reader. The caller closes both.
func (v *View) listing(path string, withBody bool) (*statev1.Collection, *pebble.Iterator, *logBodies, error) {
	c, err := collectionByPath(v.v.snap, path)
	if err != nil {
		return nil, nil, nil, err
	}
	it, err := v.prefixIter(keys.Obj, c.Id)
	if err != nil {
		return nil, nil, nil, err
	}
	var bodies *logBodies
	if withBody {
		if bodies, err = v.bodyReader(); err != nil {
			it.Close()
			return nil, nil, nil, err
		}
	}
	return c, it, bodies, nil
}

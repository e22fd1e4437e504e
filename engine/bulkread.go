package engine

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/almanac/almanac/engine/internal/keys"
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
func (v *View) ObjectsIn(c *Collection, names []string, withBody bool) ([]*Object, error) {
	order := make([]int, len(names)) // indices of names in name order
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	it, err := v.prefixIter(keys.Obj, c.ID)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := make([]*Object, len(names))
	slab := make([]Object, len(names))
	found := make([]*Object, 0, len(names))
	key := keys.IDPrefix(keys.Obj, c.ID)
	plen := len(key)
	size := 0
	for j, i := range order {
		name := names[i]
		if j > 0 && names[order[j-1]] == name {
			out[i] = out[order[j-1]]
			continue
		}
		key = append(key[:plen], name...)
		if !it.SeekGE(key) || !bytes.Equal(it.Key(), key) {
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("engine: read object %s: %w", name, err)
		}
		o := &slab[i]
		if err := decodeObjectInto(o, name, val); err == errHasDead { // rare: the generic path
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
	buf := make([]byte, 0, size)
	for _, o := range found {
		start := len(buf)
		if buf, err = bodies.appendBody(buf, o.bodySeq); err != nil {
			return nil, err
		}
		o.Body = buf[start:len(buf):len(buf)]
	}
	return out, nil
}

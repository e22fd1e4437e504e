package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
)

// The time index ('T', projection version 13) lets a time-range listing
// read only the objects whose envelope may overlap the range, instead of
// decoding every object record of the collection: a one-month query then
// costs what its matches cost, whatever the collection's size.
//
// Each object has one entry, keyed by collection, level, bucket and name,
// whose value is its envelope (the record's two int64s, big-endian), then
// its component (a length byte and the name) and its ETag (projection
// version 16): a listing whose caller decides a candidate from those
// alone (ListOptions.FromIndex) answers it without reading its record. An
// object whose envelope is bounded on both sides sits at the lowest level
// k whose buckets (2^timeShifts[k] seconds) it spans at most two of, in
// the bucket of its start: an object of level k overlapping [S, E) then
// starts in a bucket from bucket(S)-1 to bucket(E), one contiguous run
// of keys. An envelope open at its end (an endless recurrence) sits at
// levelOpenEnd by its start bucket: it is a candidate for every range
// that ends after its start. Anything else (open at its start, spanning
// more than two buckets of the top level, content without times) sits at
// levelAll, a candidate for every range. Each candidate is then checked
// against its envelope, and the caller's exact filter runs on the rest.
//
// The envelope already widens floating times and dates by the extreme
// offsets (engine/recur.Envelope), so the index never excludes a true
// match; the property test (timeindex_test.go) holds it to the full scan.

// timeShifts are the bucket widths of the bounded levels, as shifts of
// Unix seconds: about 18 hours, 12 days, 194 days, 8.5 years, 136 years.
var timeShifts = [...]uint{16, 20, 24, 28, 32}

const (
	// levelOpenEnd holds envelopes bounded at the start only, by the
	// start's bucket at timeShifts[0].
	levelOpenEnd byte = 0xFE
	// levelAll holds every other envelope: a candidate for any range.
	levelAll byte = 0xFF
)

// maxTimeCandidates bounds the names a time-range listing collects from
// the index (they are sorted to answer in name order); past it the
// listing scans the collection instead (a variable for tests).
var maxTimeCandidates = 1 << 16

// biased maps Unix seconds to an unsigned value of the same order.
func biased(t int64) uint64 { return uint64(t) ^ 1<<63 }

// envelopeBounds reads an object record's envelope as envelopeFromProto
// does: 0 and the extremes are unbounded.
func envelopeBounds(start, end int64) (s, e int64, hasStart, hasEnd bool) {
	return start, end, start != math.MinInt64 && start != 0, end != math.MaxInt64 && end != 0
}

// timePlace returns the level and bucket of an envelope's index entry.
func timePlace(start, end int64) (byte, uint64) {
	s, e, hasStart, hasEnd := envelopeBounds(start, end)
	switch {
	case !hasStart:
		return levelAll, 0
	case !hasEnd:
		return levelOpenEnd, biased(s) >> timeShifts[0]
	case e < s:
		return levelAll, 0
	}
	last := max(e-1, s) // the last second the envelope holds
	for k, sh := range timeShifts {
		if biased(last)>>sh-biased(s)>>sh <= 1 {
			return byte(k), biased(s) >> sh
		}
	}
	return levelAll, 0
}

// timeKey is the index key of an object with the given envelope.
func timeKey(coll uint64, name string, start, end int64) []byte {
	level, bucket := timePlace(start, end)
	return keys.TimeIdxKey(coll, level, bucket, name)
}

// indexTime moves object (coll, name) in the time index from the
// envelope of its old record (nil: none) to that of its new record o.
func indexTime(rw readWriter, coll uint64, name string, old, o *statev1.Object) error {
	start, end := o.EnvelopeStart, o.EnvelopeEnd
	k := timeKey(coll, name, start, end)
	if old != nil {
		if ok := timeKey(coll, name, old.EnvelopeStart, old.EnvelopeEnd); !bytes.Equal(ok, k) {
			if err := rw.Delete(ok, nil); err != nil {
				return err
			}
		}
	}
	if len(o.Component) > math.MaxUint8 {
		return fmt.Errorf("engine: time index: component name of %d bytes", len(o.Component))
	}
	v := make([]byte, 17, 17+len(o.Component)+len(o.Etag))
	binary.BigEndian.PutUint64(v, uint64(start))
	binary.BigEndian.PutUint64(v[8:], uint64(end))
	v[16] = byte(len(o.Component))
	v = append(append(v, o.Component...), o.Etag...)
	return rw.SetOwned(k, v)
}

// unindexTime removes an object's entry from the time index.
func unindexTime(rw readWriter, coll uint64, name string, old *statev1.Object) error {
	return rw.Delete(timeKey(coll, name, old.EnvelopeStart, old.EnvelopeEnd), nil)
}

// timeCandidate is an object the time index names for a range: obj is
// set when the listing's FromIndex took it from its index entry alone.
type timeCandidate struct {
	name string
	obj  *Object
}

// timeCandidates returns, sorted by name, the objects of collection id
// whose envelope overlaps [start, end) (zero: unbounded), read from the
// time index; fromIndex (nil: none) picks those answered from their
// entry alone. ok is false when there are more than maxTimeCandidates.
func (v *View) timeCandidates(id uint64, start, end time.Time, fromIndex func(*Object) bool) (cands []timeCandidate, ok bool, err error) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !start.IsZero() {
		lo = start.Unix() // floor: a wider range, never a narrower one
	}
	if !end.IsZero() {
		hi = end.Unix()
	}
	it, err := v.prefixIter(keys.TimeIdx, id)
	if err != nil {
		return nil, false, err
	}
	defer it.Close()
	var ask Object // what fromIndex is asked about
	scan := func(from, to []byte) error {
		for it.SeekGE(from); it.Valid() && bytes.Compare(it.Key(), to) < 0; it.Next() {
			val, err := it.ValueAndErr()
			if err != nil {
				return fmt.Errorf("engine: read time index: %w", err)
			}
			if len(val) < 17 || len(val) < 17+int(val[16]) {
				return fmt.Errorf("engine: time index entry %q: %d bytes, too short", it.Key(), len(val))
			}
			env := envelopeFromProto(int64(binary.BigEndian.Uint64(val)), int64(binary.BigEndian.Uint64(val[8:])))
			if !env.Overlaps(start, end) {
				continue
			}
			if len(cands) == maxTimeCandidates {
				return errTooMany
			}
			name, err := keys.TimeIdxName(it.Key())
			if err != nil {
				return err
			}
			c := timeCandidate{name: name}
			if fromIndex != nil {
				comp := val[17 : 17+int(val[16])]
				ask = Object{Name: name, Component: intern(comp), Envelope: env, ETag: string(val[17+len(comp):])}
				if fromIndex(&ask) {
					c.obj = &Object{Name: name, Component: ask.Component, Envelope: env, ETag: ask.ETag}
				}
			}
			cands = append(cands, c)
		}
		return it.Error()
	}
	type span struct{ from, to []byte }
	var spans []span
	for k, sh := range timeShifts {
		first := biased(lo) >> sh
		if first > 0 {
			first--
		}
		spans = append(spans, span{keys.TimeIdxBucket(id, byte(k), first), keys.TimeIdxBucket(id, byte(k), biased(hi)>>sh+1)})
	}
	spans = append(spans,
		span{keys.TimeIdxBucket(id, levelOpenEnd, 0), keys.TimeIdxBucket(id, levelOpenEnd, biased(hi)>>timeShifts[0]+1)},
		span{keys.TimeIdxBucket(id, levelAll, 0), keys.PrefixEnd(keys.IDPrefix(keys.TimeIdx, id))})
	for _, s := range spans {
		if err := scan(s.from, s.to); errors.Is(err, errTooMany) {
			return nil, false, nil
		} else if err != nil {
			return nil, false, err
		}
	}
	slices.SortFunc(cands, func(a, b timeCandidate) int { return strings.Compare(a.name, b.name) })
	return cands, true, nil
}

// errTooMany stops timeCandidates past maxTimeCandidates.
var errTooMany = errors.New("engine: too many time index candidates")

// objectsByName yields the objects of collection id named in cands
// (sorted), with their bodies as opts asks, in one ordered pass of an
// iterator; a candidate taken from its index entry is yielded as it is,
// and names missing from the collection are skipped.
func (v *View) objectsByName(id uint64, cands []timeCandidate, opts ListOptions, yield func(*Object, error) bool) {
	objs, err := v.prefixIter(keys.Obj, id)
	if err != nil {
		yield(nil, err)
		return
	}
	defer objs.Close()
	var bodies *logBodies
	if opts.Bodies {
		if bodies, err = v.bodyReader(); err != nil {
			yield(nil, err)
			return
		}
		defer bodies.close()
	}
	for _, c := range cands {
		if c.obj != nil {
			if !yield(c.obj, nil) {
				return
			}
			continue
		}
		name := c.name
		k := keys.ObjKey(id, name)
		if !objs.SeekGE(k) || !bytes.Equal(objs.Key(), k) {
			if err := objs.Error(); err != nil {
				yield(nil, fmt.Errorf("engine: object iterator: %w", err))
				return
			}
			continue
		}
		obj, err := iterObject(objs, name)
		if err != nil {
			yield(nil, err)
			return
		}
		if opts.wantsBody(obj) {
			if obj.Body, err = bodies.body(obj.bodySeq); err != nil {
				yield(nil, err)
				return
			}
		}
		if !yield(obj, nil) {
			return
		}
	}
}

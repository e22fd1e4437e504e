package engine

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
)

// View is a consistent, read-only picture of durable state: every read
// through one View sees the same moment, so a listing agrees with the CTag
// read before it. Close it when done; a View pins old data while open.
type View struct {
	db *DB
	v  *view
}

// View returns a view of the latest durable state.
//
// Errors: ErrClosed.
func (db *DB) View() (*View, error) {
	v, err := db.acquire()
	if err != nil {
		return nil, err
	}
	return &View{db: db, v: v}, nil
}

// Close releases the view.
func (v *View) Close() {
	if v.v != nil {
		v.v.release()
		v.v = nil
	}
}

// Head returns the sequence number of the last event the view includes.
func (v *View) Head() Seq { return v.v.head }

// Collection returns the live collection at path.
//
// Errors: ErrNotFound.
func (v *View) Collection(path string) (*Collection, error) {
	c, err := v.v.collectionByPath(path)
	if err != nil {
		return nil, err
	}
	return v.db.collectionFromProto(c), nil
}

// CollectionByID returns the collection with id, deleted ones included
// (their Path is the path they had).
//
// Errors: ErrNotFound.
func (v *View) CollectionByID(id uint64) (*Collection, bool, error) {
	c, err := getCollection(v.v.snap, id)
	if err != nil {
		return nil, false, err
	}
	return v.db.collectionFromProto(c), c.Deleted, nil
}

// Children returns the live collections directly inside path, in path order.
func (v *View) Children(path string) ([]*Collection, error) {
	paths, err := descendants(v.v.snap, path)
	if err != nil {
		return nil, err
	}
	var out []*Collection
	for _, p := range paths {
		rest := strings.TrimPrefix(p, path)
		if rest == "" || strings.Count(rest, "/") != 1 {
			continue
		}
		c, err := v.Collection(p)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Object returns the object name of the collection at path, with its body
// when withBody is set.
//
// Errors: ErrNotFound.
func (v *View) Object(path, name string, withBody bool) (*Object, error) {
	c, err := collectionByPath(v.v.snap, path)
	if err != nil {
		return nil, err
	}
	return v.object(c.Id, name, withBody)
}

// ObjectIn returns the object name of collection c, which must come from
// this view: it spares the path lookup when a request reads many objects
// of one collection (a multiget).
//
// Errors: ErrNotFound.
func (v *View) ObjectIn(c *Collection, name string, withBody bool) (*Object, error) {
	return v.object(c.ID, name, withBody)
}

// prefixIter returns an iterator over the keys of family prefix in
// collection id.
func (v *View) prefixIter(prefix byte, id uint64) (*pebble.Iterator, error) {
	lo := keys.IDPrefix(prefix, id)
	it, err := v.v.snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: keys.PrefixEnd(lo)})
	if err != nil {
		return nil, fmt.Errorf("engine: iterator: %w", err)
	}
	return it, nil
}

// logBodies reads object bodies out of the log with one iterator, cheaper
// than a point read per body when a request reads many (fastest in
// ascending seq order).
type logBodies struct {
	it *pebble.Iterator
	// ascending, set when the caller asks for ascending seqs only, lets
	// appendBody step to the record after the last one it read instead
	// of seeking it.
	ascending bool
	at        Seq    // the seq of the record it is at, when it is valid
	key       []byte // the key being read, reused
}

func (v *View) bodyReader() (*logBodies, error) {
	it, err := v.v.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{keys.Log}, UpperBound: []byte{keys.Log + 1}})
	if err != nil {
		return nil, fmt.Errorf("engine: log iterator: %w", err)
	}
	return &logBodies{it: it}, nil
}

// body returns a copy of the body held by the log record of seq.
func (r *logBodies) body(seq Seq) ([]byte, error) { return r.appendBody(nil, seq) }

// appendBody appends the body held by the log record of seq to buf.
func (r *logBodies) appendBody(buf []byte, seq Seq) ([]byte, error) {
	r.key = keys.AppendLogKey(r.key[:0], uint64(seq))
	k := r.key
	var ok bool
	// The record after the one read is a Next away; any other is sought.
	// Log records hold whole events, two or three to a table's block, so
	// stepping over those between two bodies (a multiget of every seventh
	// name) loaded every block between: a quarter of the server's CPU
	// with the records in tables, where a seek goes through the index to
	// the one block.
	if r.ascending && seq == r.at+1 && r.it.Valid() {
		ok = r.it.Next()
	} else {
		ok = r.it.SeekGE(k)
	}
	if !ok || !bytes.Equal(r.it.Key(), k) {
		return buf, fmt.Errorf("engine: body at seq %d: log record %w", seq, errors.Join(ErrNotFound, r.it.Error()))
	}
	r.at = seq
	rec, err := r.it.ValueAndErr()
	if err != nil {
		return buf, fmt.Errorf("engine: body at seq %d: %w", seq, err)
	}
	body, err := findBody(rec, seq)
	return append(buf, body...), err
}

func (r *logBodies) close() { r.it.Close() }

func (v *View) object(coll uint64, name string, withBody bool) (*Object, error) {
	rec, err := getBytes(v.v.snap, keys.ObjKey(coll, name))
	if err != nil {
		return nil, err
	}
	obj, err := listObject(name, rec)
	if err != nil {
		return nil, err
	}
	if withBody {
		if obj.Body, err = bodyAt(v.v.snap, obj.bodySeq); err != nil {
			return nil, err
		}
	}
	return obj, nil
}

// iterObject decodes the object record it is at, of object name.
func iterObject(it *pebble.Iterator, name string) (*Object, error) {
	val, err := it.ValueAndErr()
	if err != nil {
		return nil, fmt.Errorf("engine: read object %s: %w", name, err)
	}
	return listObject(name, val)
}

// ListOptions shape a listing.
type ListOptions struct {
	// Bodies asks for each object's body.
	Bodies bool
	// Start and End, when set, skip objects whose time envelope cannot
	// overlap [Start, End): their bodies are never read.
	Start, End time.Time
	// NeedBody, when set with Bodies, picks the objects whose body is
	// read; the others come without (a query that decides them from
	// their envelope).
	NeedBody func(*Object) bool
	// FromIndex, when set with Start or End, is asked about each
	// candidate of the time index with only Name, Component, Envelope
	// and ETag set (an Object it must not keep); the candidates it picks
	// are yielded with those only, without reading their records (and
	// without body).
	FromIndex func(*Object) bool
}

// wantsBody reports whether a listing with opts reads o's body.
func (opts ListOptions) wantsBody(o *Object) bool {
	return opts.Bodies && (opts.NeedBody == nil || opts.NeedBody(o))
}

// Objects streams the objects of the collection at path in name order,
// never holding the whole collection in memory. A missing collection
// yields ErrNotFound once.
func (v *View) Objects(path string, opts ListOptions) iter.Seq2[*Object, error] {
	return func(yield func(*Object, error) bool) {
		c, it, bodies, err := v.listing(path, opts.Bodies)
		if err != nil {
			yield(nil, err)
			return
		}
		defer it.Close()
		if bodies != nil {
			defer bodies.close()
		}
		ranged := !opts.Start.IsZero() || !opts.End.IsZero()
		if ranged {
			cands, ok, err := v.timeCandidates(c.Id, opts.Start, opts.End, opts.FromIndex)
			if err != nil {
				yield(nil, err)
				return
			}
			if ok {
				v.objectsByName(c.Id, cands, opts, yield)
				return
			}
		}
		for it.First(); it.Valid(); it.Next() {
			name, err := keys.Name(it.Key())
			if err != nil {
				yield(nil, err)
				return
			}
			obj, err := iterObject(it, name)
			if err != nil {
				yield(nil, err)
				return
			}
			if ranged && !obj.Envelope.Overlaps(opts.Start, opts.End) {
				continue
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
		if err := it.Error(); err != nil {
			yield(nil, fmt.Errorf("engine: object iterator: %w", err))
		}
	}
}

// ObjectsTransient streams the objects of the collection at path in name
// order, without bodies, for a caller that writes each member out before
// it asks for the next (a PROPFIND's listing): every member comes in the
// same *Object, and its strings (Name, ETag, UID, ScheduleTag) are valid
// only until the next member is asked for, as they are copied into a
// buffer the next member reuses. A caller must copy what it keeps.
//
// A member costs no allocation (ObjectsReused, whose strings stay valid,
// allocates one string per member): the 10,000 strings of a PROPFIND
// Depth 1 of 10k were a tenth of its CPU, with the collector's share. A
// missing collection yields ErrNotFound once.
func (v *View) ObjectsTransient(path string) iter.Seq2[*Object, error] {
	return v.objectsReused(path, false, true)
}

// objectsReused is ObjectsReused, and ObjectsTransient when transient is
// set.
func (v *View) objectsReused(path string, withBody, transient bool) iter.Seq2[*Object, error] {
	return func(yield func(*Object, error) bool) {
		_, it, bodies, err := v.listing(path, withBody)
		if err != nil {
			yield(nil, err)
			return
		}
		defer it.Close()
		if bodies != nil {
			defer bodies.close()
		}
		var o Object
		var body, strs []byte
		for it.First(); it.Valid(); it.Next() {
			k := it.Key()
			if len(k) < keys.IDPrefixLen {
				yield(nil, keys.ErrMalformed)
				return
			}
			name := k[keys.IDPrefixLen:]
			val, err := it.ValueAndErr()
			if err != nil {
				yield(nil, fmt.Errorf("engine: read object %s: %w", name, err))
				return
			}
			obj := &o
			if transient {
				strs, err = decodeObjectTransient(obj, name, val, strs)
			} else {
				err = decodeObjectNamed(obj, "", name, val)
			}
			if err == errHasDead { // rare: the generic path
				if obj, err = listObject(string(name), val); err != nil {
					yield(nil, err)
					return
				}
			} else if err != nil {
				yield(nil, err)
				return
			}
			if withBody {
				if body, err = bodies.appendBody(body[:0], obj.bodySeq); err != nil {
					yield(nil, err)
					return
				}
				obj.Body = body
			}
			if !yield(obj, nil) {
				return
			}
		}
		if err := it.Error(); err != nil {
			yield(nil, fmt.Errorf("engine: object iterator: %w", err))
		}
	}
}

// Collection returns the live collection at path from the latest view.
//
// Errors: ErrNotFound, ErrClosed.
func (db *DB) Collection(path string) (*Collection, error) {
	v, err := db.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return v.Collection(path)
}

// Object returns an object from the latest view; see View.Object.
func (db *DB) Object(path, name string, withBody bool) (*Object, error) {
	v, err := db.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return v.Object(path, name, withBody)
}

package dav

import (
	"fmt"
	"time"

	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
)

// objectVersion is the query.Version of o, a member of the collection at
// coll: the key of h.objects.
func objectVersion(coll string, o *engine.Object) query.Version {
	return query.Version{Coll: coll, Name: o.Name, ETag: o.ETag, Seq: uint64(o.Seq)}
}

// cachedReads lets a listing of one collection skip reading the bodies
// h.objects keeps: need is the listing's NeedBody, and fill gives each
// object the listing yields its body, from the store or the cache.
// engine.View.Objects yields each object right after asking NeedBody
// about it, so need remembers the one entry it found for fill.
type cachedReads struct {
	cache *query.ObjectCache
	view  *engine.View
	coll  string
	// want is the listing's own choice of the bodies it reads (nil: all).
	want func(*engine.Object) bool

	last struct { // what need found for the last object it was asked about
		name   string
		seq    engine.Seq
		cached bool
		body   []byte
		obj    *query.CalendarObject
	}
}

// need reports whether the listing reads o's body: when want does and
// the cache does not keep it.
func (r *cachedReads) need(o *engine.Object) bool {
	if r.want != nil && !r.want(o) {
		return false
	}
	body, obj, ok := r.cache.Get(objectVersion(r.coll, o))
	r.last.name, r.last.seq, r.last.cached, r.last.body, r.last.obj = o.Name, o.Seq, ok, body, obj
	return !ok
}

// fill sets o's body from the cache when the listing skipped reading it
// for that, and returns o parsed when the cache kept it parsed (nil
// otherwise). An object the cache dropped between need and fill (need's
// entry belongs to another object: not from View.Objects) is read again.
func (r *cachedReads) fill(o *engine.Object) (*query.CalendarObject, error) {
	if r.last.name == o.Name && r.last.seq == o.Seq {
		if !r.last.cached {
			return nil, nil
		}
		o.Body = r.last.body
		return r.last.obj, nil
	}
	if o.Body != nil || (r.want != nil && !r.want(o)) {
		return nil, nil
	}
	full, err := r.view.Object(r.coll, o.Name, true)
	if err != nil {
		return nil, fmt.Errorf("read %s%s: %w", r.coll, o.Name, err)
	}
	o.Body = full.Body
	return nil, nil
}

// parse returns o (its body filled by fill) parsed: obj when fill found
// it parsed, else through the cache.
func (r *cachedReads) parse(o *engine.Object, obj *query.CalendarObject) (*query.CalendarObject, error) {
	if obj != nil {
		return obj, nil
	}
	return r.cache.Parse(objectVersion(r.coll, o), o.Body)
}

// addSimple fills o's body and adds its busy time to fb by
// query.FreeBusy.AddSimple when o is not parsed in the cache and is a
// single event (done); a body so read from the store is kept, so the
// next lookup need not read it. When not done, obj is o parsed if the
// cache kept it so (an object parsed once is added by query.FreeBusy.Add,
// which AddSimple is held to).
func (r *cachedReads) addSimple(fb *query.FreeBusy, o *engine.Object, floating *time.Location) (obj *query.CalendarObject, done bool, err error) {
	if obj, err = r.fill(o); err != nil || obj != nil || o.Component == engine.CompAvailability {
		return obj, false, err
	}
	if !fb.AddSimple(o.Body, floating) {
		return nil, false, nil
	}
	if !r.last.cached || r.last.name != o.Name || r.last.seq != o.Seq {
		r.cache.KeepBody(objectVersion(r.coll, o), o.Body)
	}
	return nil, true, nil
}

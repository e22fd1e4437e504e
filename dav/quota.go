package dav

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// Quota properties (RFC 4331).
//
// DAV:quota-used-bytes of a collection is the sum of the sizes of the
// objects in it and in every collection below it (a home counts its
// calendars and address books). The engine keeps no running sum, so it is
// computed from the object listing, and only when a client names the
// property: neither DAV:allprop nor any member listing pays for it. Each
// collection's sum is cached under its CTag (LastSeq), which changes if
// and only if the collection changed, so a repeated PROPFIND of an
// unchanged tree reads no objects.
//
// DAV:quota-available-bytes is not reported (404): Almanac has no quotas,
// and RFC 4331 §3 lets a server without a limit leave it out; the only
// limit it has is the per-object CALDAV:max-resource-size.
//
// Both are collection properties only (RFC 4331 §3, §4 make them optional
// on other resources) and protected.

// maxQuotaCache bounds the per-collection sums kept; the cache is cleared
// when it would grow past it.
const maxQuotaCache = 1 << 14

// quotaCache holds the used bytes of collections at a LastSeq.
type quotaCache struct {
	mu   sync.Mutex
	sums map[uint64]quotaSum // collection id -> sum
}

type quotaSum struct {
	seq   engine.Seq
	bytes int64
}

// quotaUsed is DAV:quota-used-bytes of c, or a 500 propstat when the store
// cannot be read.
func (h *Handler) quotaUsed(sc *scratch, c *engine.Collection) davxml.PropValue {
	v := sc.view
	if v == nil {
		var err error
		if v, err = h.db.View(); err != nil {
			return h.quotaError(err)
		}
		defer v.Close()
	}
	n, err := h.usedBytes(v, c, 0)
	if err != nil {
		return h.quotaError(err)
	}
	return sc.int(davxml.PropQuotaUsed, n)
}

func (h *Handler) quotaError(err error) davxml.PropValue {
	h.log.LogAttrs(context.Background(), slog.LevelError, "quota-used-bytes", slog.String("error", err.Error()))
	return davxml.PropValue{Name: davxml.PropQuotaUsed, Status: http.StatusInternalServerError}
}

// usedBytes sums the object sizes of c and the collections below it.
func (h *Handler) usedBytes(v *engine.View, c *engine.Collection, level int) (int64, error) {
	if level > 64 {
		return 0, fmt.Errorf("collections nested deeper than 64 below %s", c.Path)
	}
	total, err := h.ownBytes(v, c)
	if err != nil {
		return 0, err
	}
	children, err := v.Children(c.Path)
	if err != nil {
		return 0, fmt.Errorf("list collections in %s: %w", c.Path, err)
	}
	for _, child := range children {
		n, err := h.usedBytes(v, child, level+1)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// ownBytes sums the sizes of c's own objects, from the cache when c has
// not changed since.
func (h *Handler) ownBytes(v *engine.View, c *engine.Collection) (int64, error) {
	q := &h.quota
	q.mu.Lock()
	s, ok := q.sums[c.ID]
	q.mu.Unlock()
	if ok && s.seq == c.LastSeq {
		return s.bytes, nil
	}
	var total int64
	if c.Count > 0 {
		for o, err := range v.Objects(c.Path, engine.ListOptions{}) {
			if err != nil {
				return 0, fmt.Errorf("list objects in %s: %w", c.Path, err)
			}
			total += o.Size
		}
	}
	q.mu.Lock()
	if q.sums == nil || len(q.sums) >= maxQuotaCache {
		q.sums = make(map[uint64]quotaSum)
	}
	if cur, ok := q.sums[c.ID]; !ok || cur.seq <= c.LastSeq {
		q.sums[c.ID] = quotaSum{seq: c.LastSeq, bytes: total}
	}
	q.mu.Unlock()
	return total, nil
}

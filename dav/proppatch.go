package dav

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// errRejected makes UpdateProps write nothing when a property fails.
var errRejected = errors.New("dav: property update rejected")

// proppatch answers PROPPATCH (RFC 4918 §9.2) atomically: either every
// instruction applies, or none does and the properties that could have
// been set are reported 424 Failed Dependency.
func (h *Handler) proppatch(w http.ResponseWriter, r *http.Request) error {
	root, body, err := h.readXML(w, r)
	if err != nil {
		return err
	}
	if root != davxml.D("propertyupdate") {
		return httpErrorf(http.StatusBadRequest, "the body of PROPPATCH must be DAV:propertyupdate")
	}
	var pu davxml.PropertyUpdate
	if err := decodeXML(body, &pu); err != nil {
		return err
	}
	st := state(r)
	v, err := h.db.View()
	if err != nil {
		return fmt.Errorf("open view: %w", err)
	}
	res, err := h.lookup(v, st)
	v.Close()
	if err != nil {
		return err
	}
	var results []davxml.PropValue
	if res.kind != resCollection {
		results = forbidAll(pu)
	} else {
		var failed bool
		apply := func(p *engine.Props) error {
			results, failed = applyUpdate(p, res.coll.Kind, pu)
			if failed {
				return errRejected
			}
			return nil
		}
		err := h.db.UpdateProps(r.Context(), st.meta, res.coll.Path, apply)
		if err != nil && !errors.Is(err, errRejected) {
			return err
		}
	}
	ms, end := startMultistatus(w, r)
	if err := ms.Response(res.href(), results); err != nil {
		return err
	}
	return end()
}

// applyUpdate runs the instructions of pu on p in order and returns one
// result per property. When any fails, the others are marked 424 and
// failed is set (the caller then discards p).
func applyUpdate(p *engine.Props, kind engine.Kind, pu davxml.PropertyUpdate) ([]davxml.PropValue, bool) {
	var out []davxml.PropValue
	failed := false
	for _, op := range pu.Ops {
		remove := op.XMLName == davxml.D("remove")
		if !remove && op.XMLName != davxml.D("set") {
			continue
		}
		for _, e := range op.Prop.Props {
			var pe *propError
			if remove {
				pe = removeProp(p, kind, e.XMLName)
			} else {
				pe = setProp(p, kind, e, false)
			}
			pv := davxml.PropValue{Name: e.XMLName}
			if pe != nil {
				pv.Status, failed = pe.status, true
			}
			out = append(out, pv)
		}
	}
	if failed {
		for i := range out {
			if out[i].Status == 0 {
				out[i].Status = http.StatusFailedDependency
			}
		}
	}
	return out, failed
}

// forbidAll reports every property of pu as 403: the resource has no
// writable properties (objects, principals).
func forbidAll(pu davxml.PropertyUpdate) []davxml.PropValue {
	var out []davxml.PropValue
	for _, op := range pu.Ops {
		for _, e := range op.Prop.Props {
			out = append(out, davxml.PropValue{Name: e.XMLName, Status: http.StatusForbidden})
		}
	}
	return out
}

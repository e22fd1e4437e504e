package dav

import (
	"errors"
	"maps"
	"net/http"
	"strings"

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
	res, err := h.lookupNow(st)
	if err != nil {
		return err
	}
	var results []davxml.PropValue
	switch res.kind {
	case resObject:
		var failed bool
		lim := h.db.Limits()
		apply := func(dead map[string]string) error {
			results, failed = applyObjectUpdate(dead, pu, lim)
			if failed {
				return errRejected
			}
			return nil
		}
		err := h.db.UpdateObjectProps(r.Context(), st.meta, res.coll.Path, res.obj.Name, apply)
		if err != nil && !errors.Is(err, errRejected) {
			return err
		}
	case resCollection:
		if st.mountRoot && st.share != nil {
			if results, err = h.proppatchMount(r, st, res, pu); err != nil {
				return err
			}
			break
		}
		var failed bool
		lim := h.db.Limits()
		apply := func(p *engine.Props) error {
			results, failed = applyUpdate(p, res.coll.Kind, pu, lim)
			if failed {
				return errRejected
			}
			return nil
		}
		err := h.db.UpdateProps(r.Context(), st.meta, res.coll.Path, apply)
		if err != nil && !errors.Is(err, errRejected) {
			return err
		}
	case resPrincipal:
		if res.proxy == "" {
			results = forbidAll(pu)
			break
		}
		if results, err = h.proppatchProxy(r, res, pu); err != nil {
			return err
		}
	default:
		results = forbidAll(pu)
	}
	ms, end := startMultistatus(w, r)
	if err := ms.Response(res.href(), results); err != nil {
		return err
	}
	return end()
}

// applyObjectUpdate runs the instructions of pu on an object's dead
// properties like applyUpdate: every property that is not protected (nor
// the body property of a REPORT, CALDAV:calendar-data or
// CARDDAV:address-data) is a dead property.
func applyObjectUpdate(dead map[string]string, pu davxml.PropertyUpdate, lim engine.Limits) ([]davxml.PropValue, bool) {
	old := maps.Clone(dead)
	var out []davxml.PropValue
	var set []bool
	failed := false
	for _, op := range pu.Ops {
		remove := op.XMLName == davxml.D("remove")
		if !remove && op.XMLName != davxml.D("set") {
			continue
		}
		for _, e := range op.Prop.Props {
			n := e.XMLName
			pv := davxml.PropValue{Name: n}
			switch {
			case protected[n] || n == davxml.PropCalendarData || n == davxml.PropAddressData:
				pv, failed = errProtected(n).result(n), true
			case remove:
				delete(dead, deadKey(n)) // removing an absent property succeeds (RFC 4918 §14.23)
			default:
				if v := e.Marshal(); len(v) > lim.MaxPropValue {
					pv.Status, failed = http.StatusInsufficientStorage, true
				} else {
					dead[deadKey(n)] = v
				}
			}
			out = append(out, pv)
			set = append(set, !remove)
		}
	}
	if !failed && markOverLimit(out, set, lim.CheckDeadPropsChange(old, dead)) {
		failed = true
	}
	if failed {
		markFailedDependency(out)
	}
	return out, failed
}

// markFailedDependency gives every property of a rejected PROPPATCH that
// did not fail itself 424 Failed Dependency (RFC 4918 §9.2).
func markFailedDependency(out []davxml.PropValue) {
	for i := range out {
		if out[i].Status == 0 {
			out[i].Status = http.StatusFailedDependency
		}
	}
}

// applyUpdate runs the instructions of pu on p in order and returns one
// result per property. When any fails, the others are marked 424 and
// failed is set (the caller then discards p). Properties that would take
// the collection over the engine's limits get 507 (RFC 4918 §9.2.1).
func applyUpdate(p *engine.Props, kind engine.Kind, pu davxml.PropertyUpdate, lim engine.Limits) ([]davxml.PropValue, bool) {
	old := p.Clone()
	var out []davxml.PropValue
	var set []bool
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
				pe = setProp(p, kind, e, false, lim)
			}
			out = append(out, pe.result(e.XMLName))
			failed = failed || pe != nil
			set = append(set, !remove)
		}
	}
	if !failed && markOverLimit(out, set, lim.CheckPropsChange(old, *p)) {
		failed = true
	}
	if failed {
		markFailedDependency(out)
	}
	return out, failed
}

// forbidAll reports every property of pu as 403: the resource has no
// writable properties (the root, principals).
func forbidAll(pu davxml.PropertyUpdate) []davxml.PropValue {
	var out []davxml.PropValue
	for _, op := range pu.Ops {
		for _, e := range op.Prop.Props {
			out = append(out, davxml.PropValue{Name: e.XMLName, Status: http.StatusForbidden})
		}
	}
	return out
}

// proppatchMount applies a sharee's PROPPATCH of their mount to their own
// properties of the share (displayname, calendar-color, calendar-order,
// dead properties such as default alarms): the owner's stay as they are.
func (h *Handler) proppatchMount(r *http.Request, st *reqState, res *resource, pu davxml.PropertyUpdate) ([]davxml.PropValue, error) {
	props := st.share.Props.Clone()
	results, failed := applyUpdate(&props, res.coll.Kind, pu, h.db.Limits())
	if failed {
		return results, nil
	}
	name := strings.TrimSuffix(strings.TrimPrefix(st.mountTo, homePath(st.user)), "/")
	if err := h.db.SetMountProps(r.Context(), st.meta, st.user, name, props); err != nil {
		return nil, err
	}
	return results, nil
}

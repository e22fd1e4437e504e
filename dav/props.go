package dav

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// prop is a shorthand for a 200 property with an escaped XML value.
func prop(name xml.Name, inner string) davxml.PropValue {
	return davxml.PropValue{Name: name, Inner: inner}
}

// textProp is a 200 property whose value is character data.
func textProp(name xml.Name, text string) davxml.PropValue {
	return davxml.PropValue{Name: name, Str: text}
}

func hrefValue(path string) string {
	return "<D:href>" + davxml.EscapeString(davxml.Href(path)) + "</D:href>"
}

// scratch is the memory a request reuses from one DAV:response to the
// next, so that listing thousands of members allocates nothing per member
// in this package: the property values, a byte arena for formatted
// numbers and dates, and the values that depend only on the user. The
// values a scratch returns are valid until its next use; one request owns
// one scratch and uses it from one goroutine.
type scratch struct {
	vals  []davxml.PropValue
	arena []byte
	res   resource
	obj   engine.Object
	// view is the request's view, for the properties that read more
	// than the resource (quota-used-bytes); nil opens one when needed.
	view *engine.View

	user          string
	principalHref string // hrefValue(principalPath(user))
	// origin is the request's scheme and host (see origin), for the
	// absolute URLs of properties such as CS:publish-url; "" gives
	// path-absolute ones.
	origin string
	// app is the request's app password (nil for the account's
	// password): a home's listing names only the collections in its
	// scope (scope.go).
	app *engine.AppPassword
}

// reset starts a new response.
func (sc *scratch) reset() {
	clear(sc.vals)
	sc.vals = sc.vals[:0]
	sc.arena = sc.arena[:0]
}

// principal returns the DAV:href value of user's principal.
func (sc *scratch) principal(user string) string {
	if sc.principalHref == "" || sc.user != user {
		sc.user, sc.principalHref = user, hrefValue(principalPath(user))
	}
	return sc.principalHref
}

// int is a character-data property holding n, formatted into the arena.
func (sc *scratch) int(name xml.Name, n int64) davxml.PropValue {
	start := len(sc.arena)
	sc.arena = strconv.AppendInt(sc.arena, n, 10)
	return davxml.PropValue{Name: name, Text: sc.arena[start:len(sc.arena):len(sc.arena)]}
}

// time is a character-data property holding t in UTC in layout, formatted
// into the arena.
func (sc *scratch) time(name xml.Name, t time.Time, layout string) davxml.PropValue {
	start := len(sc.arena)
	sc.arena = t.UTC().AppendFormat(sc.arena, layout)
	return davxml.PropValue{Name: name, Text: sc.arena[start:len(sc.arena):len(sc.arena)]}
}

// liveNames lists the live properties r has, in the order PROPFIND
// propname reports them.
func liveNames(r *resource) []xml.Name {
	common := []xml.Name{davxml.PropResourceType, davxml.PropCurrentUserPrincipal, davxml.PropPrincipalCollection,
		davxml.PropCurrentUserPrivileges, davxml.PropSupportedReportSet, propSupportedPrivileges, propACLRestrictions}
	switch r.kind {
	case resRoot, resPrincipals:
		return common
	case resPrincipal:
		if r.proxy != "" {
			return slices.Concat(common, accessNames, proxyNamesList)
		}
		return slices.Concat(common, accessNames, principalNamesList)
	case resNotifications:
		return common
	case resNotification:
		return slices.Concat(common, notificationNames)
	case resObject:
		names := slices.Concat(common, accessNames, []xml.Name{davxml.PropGetETag, davxml.PropGetContentType,
			davxml.PropGetContentLength, davxml.PropGetLastModified, davxml.PropCreationDate})
		if r.obj.ScheduleTag != "" {
			names = append(names, propScheduleTag)
		}
		return names
	}
	names := slices.Concat(common, accessNames)
	if shareable(r) || r.share != nil {
		names = append(names, sharingNames...)
	}
	names = append(names, davxml.PropGetLastModified, davxml.PropCreationDate,
		davxml.PropSyncToken, davxml.PropGetCTag, davxml.PropQuotaUsed)
	if r.coll.Props.DisplayName != "" {
		names = append(names, davxml.PropDisplayName)
	}
	for _, n := range []xml.Name{propScheduleTransp, propScheduleDefaultCal} {
		if _, ok := scheduleCollectionProp(r.coll, n); ok {
			names = append(names, n)
		}
	}
	switch r.coll.Kind {
	case engine.KindCalendar:
		names = append(names, davxml.PropSupportedComponents, davxml.PropSupportedCalendarData, davxml.PropMaxResourceSize)
		for _, p := range []struct {
			set  bool
			name xml.Name
		}{
			{r.coll.Props.Description != "", davxml.PropCalendarDescription},
			{r.coll.Props.Timezone != "", davxml.PropCalendarTimezone},
			{r.coll.Props.Color != "", davxml.PropCalendarColor},
			{r.coll.Props.Order != "", davxml.PropCalendarOrder},
		} {
			if p.set {
				names = append(names, p.name)
			}
		}
	case engine.KindAddressBook:
		names = append(names, davxml.PropSupportedAddressData, davxml.PropCardMaxResourceSize)
		if r.coll.Props.Description != "" {
			names = append(names, davxml.PropAddressbookDesc)
		}
	}
	return names
}

// allPropNames is what DAV:allprop returns besides dead properties: the
// RFC 4918 §15 properties (RFC 4918 §9.1 lets servers leave out the
// expensive and the CalDAV ones).
var allPropNames = []xml.Name{davxml.PropResourceType, davxml.PropDisplayName, davxml.PropGetETag,
	davxml.PropGetContentType, davxml.PropGetContentLength, davxml.PropGetLastModified, davxml.PropCreationDate}

// props returns the values of names for r; properties r does not have are
// reported with 404. Dead properties of collections and objects come from
// the engine; one stored before names were checked that cannot be written
// as well-formed XML (davxml.WellFormedElement) is left out.
//
// This is the call the REPORT handlers (multiget, sync-collection and the
// query REPORTs of dav/query) use to fill a response's properties; they
// replace the CALDAV:calendar-data and CARDDAV:address-data entries with
// the object's (possibly filtered) body.
func (h *Handler) props(r *resource, names []xml.Name) []davxml.PropValue {
	return h.appendProps(nil, &scratch{}, r, names)
}

// appendProps appends the values of names for r to out, formatting into
// sc.
func (h *Handler) appendProps(out []davxml.PropValue, sc *scratch, r *resource, names []xml.Name) []davxml.PropValue {
	for _, n := range names {
		if v, ok := h.liveProp(sc, r, n); ok {
			out = append(out, v)
			continue
		}
		if dead := deadProps(r); len(dead) > 0 {
			if x, ok := dead[deadKey(n)]; ok {
				if x, ok := davxml.WellFormedElement(x); ok {
					out = append(out, davxml.PropValue{Name: n, Element: x})
					continue
				}
			}
		}
		out = append(out, davxml.PropValue{Name: n, Status: http.StatusNotFound})
	}
	return out
}

// allProps returns DAV:allprop for r: allPropNames that r has, every dead
// property and the include list.
func (h *Handler) allProps(out []davxml.PropValue, sc *scratch, r *resource, include []xml.Name) []davxml.PropValue {
	for _, names := range [2][]xml.Name{allPropNames, include} {
		for _, n := range names {
			if v, ok := h.liveProp(sc, r, n); ok {
				out = append(out, v)
			}
		}
	}
	if dead := deadProps(r); len(dead) > 0 {
		for _, k := range sortedKeys(dead) {
			if n := parseDeadKey(k); davxml.ValidName(n) {
				if x, ok := davxml.WellFormedElement(dead[k]); ok {
					out = append(out, davxml.PropValue{Name: n, Element: x})
				}
			}
		}
	}
	return out
}

// propNames returns DAV:propname for r: every property name, empty.
func (h *Handler) propNames(out []davxml.PropValue, r *resource) []davxml.PropValue {
	for _, n := range liveNames(r) {
		out = append(out, davxml.PropValue{Name: n})
	}
	if dead := deadProps(r); len(dead) > 0 {
		for _, k := range sortedKeys(dead) {
			if n := parseDeadKey(k); davxml.ValidName(n) {
				out = append(out, davxml.PropValue{Name: n})
			}
		}
	}
	return out
}

// liveProp computes one live property of r; ok is false when r does not
// have it.
func (h *Handler) liveProp(sc *scratch, r *resource, n xml.Name) (davxml.PropValue, bool) {
	if r.kind == resObject {
		// A listing asks these of every member: looked up first, as no
		// other group of properties has their names.
		if v, ok := objectProp(sc, r, n); ok {
			return v, true
		}
	}
	switch n {
	case davxml.PropResourceType:
		return prop(n, resourceType(r)+h.sharingMarker(sc, r)), true
	case davxml.PropCurrentUserPrincipal:
		return prop(n, sc.principal(r.user)), true
	case davxml.PropPrincipalCollection:
		return prop(n, hrefValue("/dav/principals/")), true
	case davxml.PropSupportedReportSet:
		return prop(n, supportedReports(r)), true
	}
	if n == propACL {
		return h.aclProp(sc, r), true
	}
	if v, ok := accessProp(sc, r, n); ok {
		return v, true
	}
	if v, ok := h.sharingProp(sc, r, n); ok {
		return v, true
	}
	if v, ok := h.pushProp(r, n); ok {
		return v, true
	}
	switch r.kind {
	case resPrincipal:
		if r.proxy != "" {
			return h.proxyProp(sc, r, n)
		}
		return h.principalProp(sc, r, n)
	case resNotifications, resNotification:
		return notificationProp(r, n)
	case resCollection:
		return h.collectionProp(sc, r, n)
	}
	return davxml.PropValue{}, false
}

// objectProp computes one of the properties an object has of its own
// (objectField); ok is false for the others.
func objectProp(sc *scratch, r *resource, n xml.Name) (davxml.PropValue, bool) {
	return objectFieldProp(sc, r.obj, n, objectField(n))
}

// objField names a property an object has of its own, from the fields of
// its engine.Object; fieldNone is any other property.
type objField uint8

const (
	fieldNone objField = iota
	fieldETag
	fieldContentType
	fieldContentLength
	fieldLastModified
	fieldCreationDate
	fieldScheduleTag
)

// objectField returns the objField of the property n.
func objectField(n xml.Name) objField {
	switch n {
	case davxml.PropGetETag:
		return fieldETag
	case davxml.PropGetContentType:
		return fieldContentType
	case davxml.PropGetContentLength:
		return fieldContentLength
	case davxml.PropGetLastModified:
		return fieldLastModified
	case davxml.PropCreationDate:
		return fieldCreationDate
	case propScheduleTag:
		return fieldScheduleTag
	}
	return fieldNone
}

// objectFieldProp computes the property n of o, whose objField is f; ok
// is false when o does not have it (fieldNone, or no schedule tag).
func objectFieldProp(sc *scratch, o *engine.Object, n xml.Name, f objField) (davxml.PropValue, bool) {
	switch f {
	case fieldETag:
		return textProp(n, o.ETag), true
	case fieldContentType:
		return textProp(n, o.ContentType), true
	case fieldContentLength:
		return sc.int(n, o.Size), true
	case fieldLastModified:
		return sc.time(n, o.Modified, http.TimeFormat), true
	case fieldCreationDate:
		return sc.time(n, o.Created, time.RFC3339), true
	case fieldScheduleTag:
		if o.ScheduleTag != "" {
			return textProp(n, o.ScheduleTag), true
		}
	}
	return davxml.PropValue{}, false
}

// memberProp is how the members of a listing answer one property a
// DAV:prop asks for (see memberPlan).
type memberProp struct {
	name  xml.Name
	field objField
	// same, when field is fieldNone, is set when every member has the
	// live property val.
	same bool
	val  davxml.PropValue
}

// memberPlan classifies the properties pr asks of the objects of a
// listing once, with its first member r: the object's own ones come
// from its fields, the other live properties of an object depend only
// on its collection, the user and the access, which every member shares,
// and are computed once; the rest (dead properties, properties objects
// do not have) are looked up per member as props does. It returns nil
// when pr is not a list of names.
func (h *Handler) memberPlan(r *resource, pr propRequest) []memberProp {
	if pr.allProp || pr.propName {
		return nil
	}
	sc := &scratch{view: pr.sc.view, app: pr.sc.app, origin: pr.sc.origin}
	plan := make([]memberProp, len(pr.names))
	for i, n := range pr.names {
		plan[i] = memberProp{name: n, field: objectField(n)}
		if plan[i].field != fieldNone {
			continue
		}
		if v, ok := h.liveProp(sc, r, n); ok {
			v.Text = bytes.Clone(v.Text) // out of sc's arena
			plan[i].same, plan[i].val = true, v
		}
	}
	return plan
}

// memberValues is valuesFor for a member r of a listing, with the plan
// memberPlan made for pr (nil: valuesFor).
func (h *Handler) memberValues(r *resource, pr propRequest, plan []memberProp) []davxml.PropValue {
	if plan == nil {
		return h.valuesFor(r, pr)
	}
	sc := pr.sc
	sc.reset()
	for i := range plan {
		p := &plan[i]
		if p.same {
			sc.vals = append(sc.vals, p.val)
			continue
		}
		if v, ok := objectFieldProp(sc, r.obj, p.name, p.field); ok {
			sc.vals = append(sc.vals, v)
			continue
		}
		sc.vals = h.appendProps(sc.vals, sc, r, pr.names[i:i+1])
	}
	return sc.vals
}

func (h *Handler) collectionProp(sc *scratch, r *resource, n xml.Name) (davxml.PropValue, bool) {
	c := r.coll
	cal, book := c.Kind == engine.KindCalendar, c.Kind == engine.KindAddressBook
	if v, ok := scheduleCollectionProp(c, n); ok {
		return v, true
	}
	switch {
	case n == davxml.PropGetLastModified:
		return sc.time(n, c.Modified, http.TimeFormat), true
	case n == davxml.PropCreationDate:
		return sc.time(n, c.Created, time.RFC3339), true
	case n == davxml.PropSyncToken:
		return textProp(n, c.SyncToken), true
	case n == davxml.PropGetCTag:
		return textProp(n, c.CTag), true
	case n == davxml.PropQuotaUsed:
		return h.quotaUsed(sc, c), true
	case n == davxml.PropDisplayName && c.Props.DisplayName != "":
		return textProp(n, c.Props.DisplayName), true
	case cal && n == davxml.PropSupportedComponents:
		return prop(n, componentSet(c)), true
	case cal && n == davxml.PropSupportedCalendarData:
		return prop(n, `<C:calendar-data content-type="text/calendar" version="2.0"/>`), true
	case cal && n == davxml.PropMaxResourceSize, book && n == davxml.PropCardMaxResourceSize:
		return sc.int(n, h.db.MaxObjectSize()), true
	case cal && n == davxml.PropCalendarDescription && c.Props.Description != "":
		return textProp(n, c.Props.Description), true
	case cal && n == davxml.PropCalendarTimezone && c.Props.Timezone != "":
		return textProp(n, c.Props.Timezone), true
	case cal && n == davxml.PropCalendarColor && c.Props.Color != "":
		return textProp(n, c.Props.Color), true
	case cal && n == davxml.PropCalendarOrder && c.Props.Order != "":
		return textProp(n, c.Props.Order), true
	case book && n == davxml.PropSupportedAddressData:
		return prop(n, `<CR:address-data-type content-type="text/vcard" version="3.0"/><CR:address-data-type content-type="text/vcard" version="4.0"/>`), true
	case book && n == davxml.PropAddressbookDesc && c.Props.Description != "":
		return textProp(n, c.Props.Description), true
	}
	return davxml.PropValue{}, false
}

func resourceType(r *resource) string {
	switch r.kind {
	case resObject:
		return ""
	case resPrincipal:
		if r.proxy != "" {
			return "<D:principal/><CS:" + r.proxy + "/>"
		}
		return "<D:collection/><D:principal/>"
	case resNotifications:
		return "<D:collection/><CS:notification/>"
	case resNotification:
		return ""
	case resCollection:
		switch r.coll.Kind {
		case engine.KindCalendar:
			return "<D:collection/><C:calendar/>"
		case engine.KindAddressBook:
			return "<D:collection/><CR:addressbook/>"
		case engine.KindInbox:
			return "<D:collection/><C:schedule-inbox/>"
		case engine.KindOutbox:
			return "<D:collection/><C:schedule-outbox/>"
		}
	}
	return "<D:collection/>"
}

func componentSet(c *engine.Collection) string {
	comps := c.Props.Components
	if len(comps) == 0 {
		comps = engine.DefaultComponents
	}
	s := ""
	for _, comp := range comps {
		s += `<C:comp name="` + davxml.EscapeString(comp) + `"/>`
	}
	return s
}

// supportedReports is DAV:supported-report-set (RFC 3253 §3.1.5).
func supportedReports(r *resource) string {
	switch r.kind {
	case resPrincipals:
		return principalsReports
	case resCollection, resObject:
	default:
		return rootReports
	}
	switch r.coll.Kind {
	case engine.KindCalendar:
		return calendarReports
	case engine.KindAddressBook:
		return addressBookReports
	}
	return collectionReports
}

// aclReports are the reports of RFC 3744 §9 (and RFC 3253's
// expand-property) that every resource answers.
var aclReports = []string{"<D:expand-property/>", "<D:principal-match/>", "<D:principal-property-search/>", "<D:acl-principal-prop-set/>"}

var (
	rootReports        = reportSet()
	principalsReports  = reportSet("<D:principal-search-property-set/>", "<CS:calendarserver-principal-property-search/>")
	collectionReports  = reportSet("<D:sync-collection/>")
	calendarReports    = reportSet("<D:sync-collection/>", "<C:calendar-multiget/>", "<C:calendar-query/>", "<C:free-busy-query/>")
	addressBookReports = reportSet("<D:sync-collection/>", "<CR:addressbook-multiget/>", "<CR:addressbook-query/>")
)

// reportSet writes the supported-report elements of aclReports and
// reports.
func reportSet(reports ...string) string {
	s := ""
	for _, rep := range slices.Concat(aclReports, reports) {
		s += "<D:supported-report><D:report>" + rep + "</D:report></D:supported-report>"
	}
	return s
}

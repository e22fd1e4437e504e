package dav

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
)

// protected lists the live properties clients may never set (RFC 4918
// §15, RFC 4791 §5.2, RFC 6352 §6.2, RFC 6578 §4): PROPPATCH of one gets
// 403 DAV:cannot-modify-protected-property.
var protected = map[xml.Name]bool{}

func init() {
	for _, n := range []xml.Name{
		davxml.PropResourceType, davxml.PropGetETag, davxml.PropGetContentType, davxml.PropGetContentLength,
		davxml.PropGetLastModified, davxml.PropCreationDate, davxml.PropSyncToken, davxml.PropGetCTag,
		davxml.PropCurrentUserPrincipal, davxml.PropPrincipalURL, davxml.PropPrincipalCollection,
		davxml.PropSupportedReportSet, davxml.PropCurrentUserPrivileges, davxml.PropOwner,
		davxml.PropQuotaAvailable, davxml.PropQuotaUsed, davxml.PropCalendarHomeSet,
		davxml.PropAddressbookHomeSet, davxml.PropCalendarUserAddresses, davxml.PropSupportedCalendarData,
		davxml.PropMaxResourceSize, davxml.PropSupportedAddressData, davxml.PropCardMaxResourceSize,
		davxml.PropSupportedComponents, davxml.D("lockdiscovery"), davxml.D("supportedlock"),
		propScheduleTag,
	} {
		protected[n] = true
	}
}

// propError is why one property of a PROPPATCH or MKCOL cannot be set:
// its status, and the precondition reported in the propstat's DAV:error
// when there is one (RFC 4918 §14.22).
type propError struct {
	status int
	msg    string
	cond   xml.Name
}

func errProtected(n xml.Name) *propError {
	return &propError{http.StatusForbidden, "{" + n.Space + "}" + n.Local + " is protected", davxml.D("cannot-modify-protected-property")}
}

// result is the propstat entry of property n that failed with pe (nil:
// it did not fail).
func (pe *propError) result(n xml.Name) davxml.PropValue {
	pv := davxml.PropValue{Name: n}
	if pe != nil {
		pv.Status = pe.status
		if pe.cond.Local != "" {
			pv.Error = davxml.Empty(pe.cond)
		}
	}
	return pv
}

// setProp applies one property of a DAV:set to p, for a collection of
// kind. creating allows the properties only settable at creation
// (CALDAV:supported-calendar-component-set, RFC 4791 §5.2.3). A value
// over lim.MaxPropValue gets 507 (RFC 4918 §9.2.1: "the server did not
// have sufficient space to record the property").
func setProp(p *engine.Props, kind engine.Kind, e davxml.Elem, creating bool, lim engine.Limits) *propError {
	n := e.XMLName
	cal := kind == engine.KindCalendar
	if len(e.Text) > lim.MaxPropValue {
		return errPropTooLarge(len(e.Text), lim)
	}
	if pe := checkScheduleProp(kind, e); pe != nil {
		return pe
	}
	switch {
	case n == davxml.PropDisplayName:
		p.DisplayName = e.Text
	case cal && n == davxml.PropCalendarDescription, kind == engine.KindAddressBook && n == davxml.PropAddressbookDesc:
		p.Description = e.Text
	case cal && n == davxml.PropCalendarColor:
		p.Color = strings.TrimSpace(e.Text)
	case cal && n == davxml.PropCalendarOrder:
		p.Order = strings.TrimSpace(e.Text)
	case cal && n == davxml.PropCalendarTimezone:
		// RFC 4791 §5.2.2: one VCALENDAR with exactly one VTIMEZONE
		// (CALDAV:valid-calendar-data); an empty value removes it.
		if strings.TrimSpace(e.Text) != "" {
			if _, err := query.ParseTimezone(e.Text); err != nil {
				return &propError{http.StatusForbidden, err.Error(), davxml.C("valid-calendar-data")}
			}
		}
		p.Timezone = e.Text
	case cal && creating && n == davxml.PropSupportedComponents:
		comps, err := componentsOf(e)
		if err != nil {
			return err
		}
		p.Components = comps
	case protected[n]:
		return errProtected(n)
	default:
		v := e.Marshal()
		if len(v) > lim.MaxPropValue {
			return errPropTooLarge(len(v), lim)
		}
		if p.Dead == nil {
			p.Dead = map[string]string{}
		}
		p.Dead[deadKey(n)] = v
	}
	return nil
}

// errPropTooLarge is the 507 of one property value over the limit.
func errPropTooLarge(n int, lim engine.Limits) *propError {
	return &propError{status: http.StatusInsufficientStorage, msg: fmt.Sprintf("a property value of %d bytes exceeds the limit of %d", n, lim.MaxPropValue)}
}

// markOverLimit gives every property of out that a DAV:set stored (status
// still 0) 507 when err, the engine's verdict on the properties as a
// whole (too many dead properties, too many bytes), is set: none of them
// could be recorded. It reports whether it marked any; the caller then
// marks the rest 424.
func markOverLimit(out []davxml.PropValue, set []bool, err error) bool {
	if err == nil {
		return false
	}
	marked := false
	for i := range out {
		if out[i].Status == 0 && set[i] {
			out[i].Status, marked = http.StatusInsufficientStorage, true
		}
	}
	return marked
}

// removeProp applies one property of a DAV:remove to p.
func removeProp(p *engine.Props, kind engine.Kind, n xml.Name) *propError {
	cal := kind == engine.KindCalendar
	switch {
	case n == davxml.PropDisplayName:
		p.DisplayName = ""
	case cal && n == davxml.PropCalendarDescription, kind == engine.KindAddressBook && n == davxml.PropAddressbookDesc:
		p.Description = ""
	case cal && n == davxml.PropCalendarColor:
		p.Color = ""
	case cal && n == davxml.PropCalendarOrder:
		p.Order = ""
	case cal && n == davxml.PropCalendarTimezone:
		p.Timezone = ""
	case protected[n]:
		return errProtected(n)
	default:
		delete(p.Dead, deadKey(n)) // removing an absent property succeeds (RFC 4918 §14.23)
	}
	return nil
}

// calendarComponents are the components a calendar may be restricted to.
// VAVAILABILITY (RFC 7953 §7.2.2) only when listed: it is not in
// engine.AllComponents, the set of a calendar created without one.
var calendarComponents = map[string]bool{"VEVENT": true, "VTODO": true, "VJOURNAL": true, "VFREEBUSY": true, engine.CompAvailability: true}

// componentsOf reads CALDAV:supported-calendar-component-set (RFC 4791
// §5.2.3).
func componentsOf(e davxml.Elem) ([]string, *propError) {
	var comps []string
	for _, c := range e.Children {
		if c.XMLName != davxml.C("comp") {
			continue
		}
		name := strings.ToUpper(c.Attr("name"))
		if !calendarComponents[name] {
			return nil, &propError{http.StatusForbidden, "unsupported calendar component " + c.Attr("name"), xml.Name{}}
		}
		comps = append(comps, name)
	}
	if len(comps) == 0 {
		return nil, &propError{http.StatusForbidden, "supported-calendar-component-set names no component", xml.Name{}}
	}
	return comps, nil
}

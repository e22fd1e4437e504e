package davxml

import "encoding/xml"

// Prop is DAV:prop (RFC 4918 §14.18): a list of properties, by name only in
// PROPFIND and REPORT requests, with values in PROPPATCH and MKCOL.
type Prop struct {
	Props []Elem `xml:",any"`
}

// Propfind is DAV:propfind (RFC 4918 §14.20). Exactly one of AllProp,
// PropName and Prop is set; Include goes with AllProp (§14.8).
type Propfind struct {
	XMLName  xml.Name  `xml:"DAV: propfind"`
	AllProp  *struct{} `xml:"DAV: allprop"`
	PropName *struct{} `xml:"DAV: propname"`
	Prop     *Prop     `xml:"DAV: prop"`
	Include  *Prop     `xml:"DAV: include"`
}

// PropertyUpdate is DAV:propertyupdate (RFC 4918 §14.19): an ordered list
// of DAV:set (§14.26) and DAV:remove (§14.23) instructions.
type PropertyUpdate struct {
	XMLName xml.Name    `xml:"DAV: propertyupdate"`
	Ops     []SetRemove `xml:",any"`
}

// SetRemove is one DAV:set or DAV:remove of a DAV:propertyupdate; XMLName
// tells which.
type SetRemove struct {
	XMLName xml.Name
	Prop    Prop `xml:"DAV: prop"`
}

// Mkcol is DAV:mkcol (RFC 5689 §5.1): the body of an extended MKCOL, whose
// DAV:set holds the initial properties including DAV:resourcetype.
type Mkcol struct {
	XMLName xml.Name    `xml:"DAV: mkcol"`
	Set     []SetRemove `xml:"DAV: set"`
}

// Mkcalendar is CALDAV:mkcalendar (RFC 4791 §9.1): the optional body of
// MKCALENDAR, whose DAV:set holds the initial properties.
type Mkcalendar struct {
	XMLName xml.Name    `xml:"urn:ietf:params:xml:ns:caldav mkcalendar"`
	Set     []SetRemove `xml:"DAV: set"`
}

// Multiget is CALDAV:calendar-multiget (RFC 4791 §9.10) or
// CARDDAV:addressbook-multiget (RFC 6352 §8.7): properties to return for a
// list of hrefs.
type Multiget struct {
	XMLName  xml.Name
	AllProp  *struct{} `xml:"DAV: allprop"`
	PropName *struct{} `xml:"DAV: propname"`
	Prop     *Prop     `xml:"DAV: prop"`
	Hrefs    []string  `xml:"DAV: href"`
}

// SyncCollection is DAV:sync-collection (RFC 6578 §6.1).
type SyncCollection struct {
	XMLName   xml.Name `xml:"DAV: sync-collection"`
	SyncToken string   `xml:"DAV: sync-token"`
	SyncLevel string   `xml:"DAV: sync-level"`
	Limit     *Limit   `xml:"DAV: limit"`
	Prop      *Prop    `xml:"DAV: prop"`
}

// Limit is DAV:limit (RFC 5323 §5.17), used by sync-collection (RFC 6578
// §6.1) to cap the number of results.
type Limit struct {
	NResults string `xml:"DAV: nresults"`
}

// ExpandProperty is DAV:expand-property (RFC 3253 §3.8).
type ExpandProperty struct {
	XMLName    xml.Name   `xml:"DAV: expand-property"`
	Properties []Property `xml:"DAV: property"`
}

// Property is DAV:property inside DAV:expand-property (RFC 3253 §3.8): a
// property to report and, when its value holds hrefs, the properties to
// report of each resource those hrefs name.
type Property struct {
	Name       string     `xml:"name,attr"`
	Namespace  string     `xml:"namespace,attr"`
	Properties []Property `xml:"DAV: property"`
}

// XMLName returns the property's name; the namespace defaults to DAV:.
func (p Property) XMLName() xml.Name {
	ns := p.Namespace
	if ns == "" {
		ns = NSDAV
	}
	return xml.Name{Space: ns, Local: p.Name}
}

// PrincipalPropertySearch is DAV:principal-property-search (RFC 3744
// §9.4): the principals whose properties match every (test="allof", the
// default) or any (test="anyof") DAV:property-search, with the properties
// of DAV:prop.
type PrincipalPropertySearch struct {
	XMLName  xml.Name         `xml:"DAV: principal-property-search"`
	Test     string           `xml:"test,attr"`
	Searches []PropertySearch `xml:"DAV: property-search"`
	Prop     *Prop            `xml:"DAV: prop"`
	// ApplyToSet searches the principal collection set rather than the
	// Request-URI (RFC 3744 §9.4).
	ApplyToSet *struct{} `xml:"DAV: apply-to-principal-collection-set"`
}

// PropertySearch is one DAV:property-search: the properties whose values
// are tested, and the string they must contain (or, with CalendarServer's
// match-type attribute, start with, end with or equal).
type PropertySearch struct {
	Prop  Prop  `xml:"DAV: prop"`
	Match Match `xml:"DAV: match"`
}

// Match is DAV:match (RFC 3744 §9.4) with CalendarServer's match-type.
type Match struct {
	Type  string `xml:"match-type,attr"`
	Value string `xml:",chardata"`
}

// PrincipalMatch is DAV:principal-match (RFC 3744 §9.3): the members of
// the Request-URI that are the current user's principal (DAV:self) or
// whose property names it (DAV:principal-property).
type PrincipalMatch struct {
	XMLName           xml.Name  `xml:"DAV: principal-match"`
	Self              *struct{} `xml:"DAV: self"`
	PrincipalProperty *Prop     `xml:"DAV: principal-property"`
	Prop              *Prop     `xml:"DAV: prop"`
}

// ACLPrincipalPropSet is DAV:acl-principal-prop-set (RFC 3744 §9.2): the
// properties of every principal of the Request-URI's ACL.
type ACLPrincipalPropSet struct {
	XMLName xml.Name `xml:"DAV: acl-principal-prop-set"`
	Prop    *Prop    `xml:"DAV: prop"`
}

// CSPrincipalSearch is CalendarServer's
// calendarserver-principal-property-search (Apple's
// caldav-ext principal search): principals matching every search token,
// restricted by context (user, group, location, resource, attendee).
type CSPrincipalSearch struct {
	XMLName xml.Name `xml:"http://calendarserver.org/ns/ calendarserver-principal-property-search"`
	Context string   `xml:"context,attr"`
	Tokens  []string `xml:"http://calendarserver.org/ns/ search-token"`
	Limit   *struct {
		NResults string `xml:"http://calendarserver.org/ns/ nresults"`
	} `xml:"http://calendarserver.org/ns/ limit"`
	Prop *Prop `xml:"DAV: prop"`
}

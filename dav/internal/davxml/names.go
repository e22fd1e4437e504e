package davxml

import "encoding/xml"

// XML namespaces of the protocols Almanac speaks.
const (
	NSDAV     = "DAV:"                           // RFC 4918
	NSCalDAV  = "urn:ietf:params:xml:ns:caldav"  // RFC 4791
	NSCardDAV = "urn:ietf:params:xml:ns:carddav" // RFC 6352
	NSCS      = "http://calendarserver.org/ns/"  // Apple CalendarServer (getctag)
	NSApple   = "http://apple.com/ns/ical/"      // Apple iCal (calendar-color, calendar-order)
	NSAlmanac = "http://almanac.invalid/ns/"     // Almanac's own elements (error messages)
)

// prefix returns the namespace prefix the multistatus writer declares on
// its root element for ns, or "" for a namespace declared on the element
// using it. It must agree with rootNamespaces.
func prefix(ns string) string {
	switch ns {
	case NSDAV:
		return "D"
	case NSCalDAV:
		return "C"
	case NSCardDAV:
		return "CR"
	case NSCS:
		return "CS"
	case NSApple:
		return "ICAL"
	}
	return ""
}

// rootNamespaces is the namespace declaration block of a multistatus root.
const rootNamespaces = ` xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CR="urn:ietf:params:xml:ns:carddav" xmlns:CS="http://calendarserver.org/ns/" xmlns:ICAL="http://apple.com/ns/ical/"`

// D returns the name local in the DAV: namespace.
func D(local string) xml.Name { return xml.Name{Space: NSDAV, Local: local} }

// C returns the name local in the CalDAV namespace.
func C(local string) xml.Name { return xml.Name{Space: NSCalDAV, Local: local} }

// CR returns the name local in the CardDAV namespace.
func CR(local string) xml.Name { return xml.Name{Space: NSCardDAV, Local: local} }

// Property names (RFC 4918 §15, RFC 4791 §5.2 and §6.2, RFC 6352 §6.2 and
// §7.1, RFC 6578 §4, RFC 5397 §3, RFC 3744 §4-5, Apple extensions).
var (
	PropResourceType          = D("resourcetype")
	PropDisplayName           = D("displayname")
	PropGetETag               = D("getetag")
	PropGetContentType        = D("getcontenttype")
	PropGetContentLength      = D("getcontentlength")
	PropGetLastModified       = D("getlastmodified")
	PropCreationDate          = D("creationdate")
	PropSyncToken             = D("sync-token")
	PropCurrentUserPrincipal  = D("current-user-principal")
	PropPrincipalURL          = D("principal-URL")
	PropPrincipalCollection   = D("principal-collection-set")
	PropSupportedReportSet    = D("supported-report-set")
	PropCurrentUserPrivileges = D("current-user-privilege-set")
	PropOwner                 = D("owner")
	PropQuotaAvailable        = D("quota-available-bytes")
	PropQuotaUsed             = D("quota-used-bytes")
	PropGetCTag               = xml.Name{Space: NSCS, Local: "getctag"}
	PropCalendarColor         = xml.Name{Space: NSApple, Local: "calendar-color"}
	PropCalendarOrder         = xml.Name{Space: NSApple, Local: "calendar-order"}
	PropCalendarHomeSet       = C("calendar-home-set")
	PropCalendarUserAddresses = C("calendar-user-address-set")
	PropCalendarDescription   = C("calendar-description")
	PropCalendarTimezone      = C("calendar-timezone")
	PropSupportedComponents   = C("supported-calendar-component-set")
	PropSupportedCalendarData = C("supported-calendar-data")
	PropMaxResourceSize       = C("max-resource-size")
	PropCalendarData          = C("calendar-data")
	PropAddressbookHomeSet    = CR("addressbook-home-set")
	PropAddressbookDesc       = CR("addressbook-description")
	PropSupportedAddressData  = CR("supported-address-data")
	PropCardMaxResourceSize   = CR("max-resource-size")
	PropAddressData           = CR("address-data")
)

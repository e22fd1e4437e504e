package bench

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"strings"
	"time"
)

// Multistatus is the part of a DAV:multistatus (RFC 4918 §14.16) the bench reads.
type Multistatus struct {
	Responses []MSResponse `xml:"DAV: response"`
	SyncToken string       `xml:"DAV: sync-token"`
}

// MSResponse is one DAV:response.
type MSResponse struct {
	Href     string     `xml:"DAV: href"`
	Status   string     `xml:"DAV: status"`
	Propstat []Propstat `xml:"DAV: propstat"`
}

// Propstat is one DAV:propstat.
type Propstat struct {
	Status string `xml:"DAV: status"`
	Prop   struct {
		ETag         string `xml:"DAV: getetag"`
		CalendarData string `xml:"urn:ietf:params:xml:ns:caldav calendar-data"`
		AddressData  string `xml:"urn:ietf:params:xml:ns:carddav address-data"`
	} `xml:"DAV: prop"`
}

// Gone reports whether the response says the member was deleted or not
// found (RFC 6578 §3.5.2 reports deletions as a 404 status).
func (r MSResponse) Gone() bool { return strings.Contains(r.Status, " 404") }

// Data returns the calendar-data or address-data of a 200 propstat.
func (r MSResponse) Data() string {
	for _, p := range r.Propstat {
		if strings.Contains(p.Status, " 200") {
			return p.Prop.CalendarData + p.Prop.AddressData
		}
	}
	return ""
}

// ParseMultistatus decodes a 207 body.
func ParseMultistatus(body []byte) (*Multistatus, error) {
	var ms Multistatus
	if err := xml.NewDecoder(bytes.NewReader(body)).Decode(&ms); err != nil {
		return nil, fmt.Errorf("parse multistatus: %w", err)
	}
	return &ms, nil
}

// Exchange is one timed request: the response and the time from sending
// the request to having read the last byte of the body.
type Exchange struct {
	*Response
	Took time.Duration
}

// timed runs one request and checks its status.
func (c *Client) timed(ctx context.Context, method, path string, hdr map[string]string, body []byte, ok ...int) (Exchange, error) {
	t0 := time.Now()
	resp, err := c.Do(ctx, method, path, hdr, body)
	took := time.Since(t0)
	if err != nil {
		return Exchange{}, err
	}
	if err := expect(method, path, resp, ok...); err != nil {
		return Exchange{Response: resp, Took: took}, err
	}
	return Exchange{Response: resp, Took: took}, nil
}

// MkCalendar creates a calendar collection (RFC 4791 §5.3.1) at path.
func (c *Client) MkCalendar(ctx context.Context, path string) error {
	_, err := c.timed(ctx, "MKCALENDAR", path, nil, nil, 201)
	return err
}

// Put stores body at path. create adds If-None-Match: * (a new resource).
func (c *Client) Put(ctx context.Context, path, contentType string, body []byte, create bool) (Exchange, error) {
	hdr := map[string]string{"Content-Type": contentType}
	if create {
		hdr["If-None-Match"] = "*"
	}
	return c.timed(ctx, "PUT", path, hdr, body, 201, 204)
}

// Propfind sends a Depth 1 PROPFIND for the properties a syncing client asks for.
func (c *Client) Propfind(ctx context.Context, path string) (Exchange, error) {
	const body = `<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getetag/><d:getcontenttype/></d:prop></d:propfind>`
	return c.timed(ctx, "PROPFIND", path, map[string]string{"Depth": "1", "Content-Type": "application/xml"}, []byte(body), 207)
}

// Multiget fetches hrefs with calendar-multiget (RFC 4791 §7.9) or, when
// card is true, addressbook-multiget (RFC 6352 §8.7).
func (c *Client) Multiget(ctx context.Context, coll string, hrefs []string, card bool) (Exchange, error) {
	var b strings.Builder
	if card {
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?><c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>`)
	} else {
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?><c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>`)
	}
	for _, h := range hrefs {
		b.WriteString("<d:href>")
		xml.EscapeText(&b, []byte(h))
		b.WriteString("</d:href>")
	}
	if card {
		b.WriteString("</c:addressbook-multiget>")
	} else {
		b.WriteString("</c:calendar-multiget>")
	}
	return c.timed(ctx, "REPORT", coll, map[string]string{"Depth": "1", "Content-Type": "application/xml"}, []byte(b.String()), 207)
}

// SyncCollection sends an RFC 6578 sync-collection REPORT from token
// (empty for an initial sync) asking for ETags.
func (c *Client) SyncCollection(ctx context.Context, coll, token string) (Exchange, error) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>`)
	xml.EscapeText(&b, []byte(token))
	b.WriteString(`</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`)
	return c.timed(ctx, "REPORT", coll, map[string]string{"Content-Type": "application/xml"}, []byte(b.String()), 207)
}

// CalendarQuery sends a calendar-query (RFC 4791 §7.8) for VEVENTs in
// [from, to). With expand it asks for calendar-data expanded to instances
// (§9.6.5); without, for ETags only.
func (c *Client) CalendarQuery(ctx context.Context, coll string, from, to time.Time, expand bool) (Exchange, error) {
	const stamp = "20060102T150405Z"
	f, t := from.UTC().Format(stamp), to.UTC().Format(stamp)
	prop := `<d:getetag/>`
	if expand {
		prop = `<d:getetag/><c:calendar-data><c:expand start="` + f + `" end="` + t + `"/></c:calendar-data>`
	}
	body := `<?xml version="1.0" encoding="utf-8"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">` +
		`<d:prop>` + prop + `</d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">` +
		`<c:time-range start="` + f + `" end="` + t + `"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`
	return c.timed(ctx, "REPORT", coll, map[string]string{"Depth": "1", "Content-Type": "application/xml"}, []byte(body), 207)
}

// Members returns the hrefs of a collection's members from a Depth 1
// PROPFIND multistatus, leaving out the collection itself.
func Members(coll string, ms *Multistatus) []string {
	self := strings.TrimSuffix(HrefPath(coll), "/")
	var out []string
	for _, r := range ms.Responses {
		if strings.TrimSuffix(HrefPath(r.Href), "/") == self {
			continue
		}
		out = append(out, r.Href)
	}
	return out
}

// MkAddressBook creates an address book with an extended MKCOL (RFC 5689,
// as RFC 6352 §6.3.1 allows).
func (c *Client) MkAddressBook(ctx context.Context, path string) error {
	const body = `<?xml version="1.0" encoding="utf-8"?>
<d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop>` +
		`<d:resourcetype><d:collection/><c:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>`
	_, err := c.timed(ctx, "MKCOL", path, map[string]string{"Content-Type": "application/xml"}, []byte(body), 201)
	return err
}

package dav

import (
	"encoding/xml"
	"net/http"
	"regexp"

	"github.com/almanac/almanac/dav/internal/davxml"
)

// maxExpandDepth bounds the nesting of DAV:property in expand-property.
const maxExpandDepth = 4

// expandProperty answers DAV:expand-property (RFC 3253 §3.8): the listed
// properties of the Request-URI, where every DAV:href in a property value
// that has nested DAV:property elements is replaced by a DAV:response with
// those properties of the resource it names. iOS asks for the principal's
// properties this way.
func (h *Handler) expandProperty(w http.ResponseWriter, r *http.Request, rq *reportRequest) error {
	var ep davxml.ExpandProperty
	if err := decodeXML(rq.Body, &ep); err != nil {
		return err
	}
	ms, end := startMultistatus(w, r)
	if err := ms.Response(rq.Res.href(), h.expandedProps(rq, rq.Res, ep.Properties, 0)); err != nil {
		return err
	}
	return end()
}

// hrefRE finds the DAV:href elements of a property value written by
// liveProp, which always uses the D prefix.
var hrefRE = regexp.MustCompile(`<D:href>([^<]*)</D:href>`)

func (h *Handler) expandedProps(rq *reportRequest, res *resource, props []davxml.Property, level int) []davxml.PropValue {
	names := make([]xml.Name, len(props))
	for i, p := range props {
		names[i] = p.XMLName()
	}
	vals := h.props(res, names)
	for i, p := range props {
		if len(p.Properties) == 0 || vals[i].Inner == "" || level >= maxExpandDepth {
			continue
		}
		inner := ""
		for _, m := range hrefRE.FindAllStringSubmatch(vals[i].Inner, -1) {
			href := xmlUnescape(m[1])
			target, err := h.lookupHref(rq.View, rq.User, rq.st.app, href)
			if err != nil {
				inner += "<D:response><D:href>" + m[1] + "</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>"
				continue
			}
			inner += davxml.AppendResponse(href, h.expandedProps(rq, target, p.Properties, level+1))
		}
		vals[i].Inner = inner
	}
	return vals
}

// xmlUnescape undoes davxml.EscapeString for the characters an href can
// hold.
func xmlUnescape(s string) string {
	var v struct {
		S string `xml:",chardata"`
	}
	if err := xml.Unmarshal([]byte("<x>"+s+"</x>"), &v); err != nil {
		return s
	}
	return v.S
}

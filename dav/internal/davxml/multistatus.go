package davxml

import (
	"bufio"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// PropValue is one property of a response in a multistatus being written.
//
// The value is written from the first of these that is set: Element (a
// whole self-contained element, used for dead properties), Inner (XML
// already escaped, placed between the start and end tags), Str and Text
// (character data, escaped on output; Text carries CALDAV:calendar-data
// and CARDDAV:address-data, and values formatted into a reused buffer).
// With none set the property is written empty, which is also how 404 and
// 403 properties are reported.
type PropValue struct {
	Name   xml.Name
	Status int // 0 means 200
	// Error, when set, is the precondition element (as Empty writes it)
	// reported in the DAV:error of the property's propstat (RFC 4918
	// §14.22): properties are grouped by status and error.
	Error   string
	Inner   string
	Str     string
	Text    []byte
	Element string
}

// Multistatus streams a DAV:multistatus document (RFC 4918 §14.16) to a
// writer: one DAV:response at a time, properties grouped in one DAV:propstat
// per status, at most a buffer of responses (writerSize) held in memory.
//
// Write errors are sticky: after the first, every method is a no-op and
// Close returns it.
type Multistatus struct {
	w   *bufio.Writer
	err error
	// dir and dirHref cache the escaped form of the last directory
	// ResponsePath wrote: the members of a listing share it.
	dir, dirHref string
	// from and to are the unescaped path prefixes of Alias, fromHref and
	// toHref their escaped forms.
	from, to, fromHref, toHref string
	// shapes are the layouts of the last responses' properties, the last
	// one used first.
	shapes []*shape
	// pooled is where w and shapes came from, nil when not from writers.
	pooled *pooledWriter
	// out is what w writes to.
	out io.Writer
}

// Sizer is implemented by a writer that wants to know how long the rest
// of a multistatus answer is before it is written: Close calls SetSize
// with the length of what its buffer still holds, the whole answer when
// nothing went out before, so that an HTTP answer held whole in the
// buffer goes out with a Content-Length in one write instead of in
// chunks.
type Sizer interface {
	SetSize(n int)
}

// Alias makes every href written after it that starts with the path
// prefix from (unescaped, ending in "/") start with to instead: a request
// through a sharee's mount of a shared collection reads the owner's
// collection and answers with the hrefs of the mount.
func (m *Multistatus) Alias(from, to string) {
	m.from, m.to, m.fromHref, m.toHref = from, to, Href(from), Href(to)
	m.dir, m.dirHref = "", ""
}

// alias maps href (escaped) through Alias.
func (m *Multistatus) alias(href string) string {
	if m.fromHref != "" && strings.HasPrefix(href, m.fromHref) {
		return m.toHref + href[len(m.fromHref):]
	}
	return href
}

// NewMultistatus writes the XML declaration and the multistatus start tag
// to w. Its buffer comes from a pool and goes back there at Close.
func NewMultistatus(w io.Writer) *Multistatus {
	pw := writers.Get().(*pooledWriter)
	pw.w.Reset(w)
	m := &Multistatus{w: pw.w, shapes: pw.shapes, pooled: pw, out: w}
	m.w.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n<D:multistatus" + rootNamespaces + ">")
	return m
}

// Response writes a DAV:response for href (already URL-escaped, see Href)
// with props grouped by status, in the order each status first appears.
func (m *Multistatus) Response(href string, props []PropValue) error {
	if m.err != nil {
		return m.err
	}
	w := m.w
	w.WriteString("<D:response><D:href>")
	escape(w, m.alias(href))
	w.WriteString("</D:href>")
	m.propstats(props)
	w.WriteString("</D:response>")
	return m.flushIfFull()
}

// ResponsePath is Response for the unescaped URL path dir+name (dir ends
// with "/"; name is one segment, without "/", and may be empty), escaped
// as Href does while it is written, without building the href.
func (m *Multistatus) ResponsePath(dir, name string, props []PropValue) error {
	if m.err != nil {
		return m.err
	}
	w := m.w
	w.WriteString("<D:response>")
	m.writeHref(dir, name)
	m.propstats(props)
	w.WriteString("</D:response>")
	return m.flushIfFull()
}

// StatusResponsePath is StatusResponse for the unescaped URL path
// dir+name, escaped as in ResponsePath.
func (m *Multistatus) StatusResponsePath(dir, name string, status int) error {
	if m.err != nil {
		return m.err
	}
	m.w.WriteString("<D:response>")
	m.writeHref(dir, name)
	writeStatus(m.w, status)
	m.w.WriteString("</D:response>")
	return m.flushIfFull()
}

// writeHref writes the DAV:href element of the path dir+name: every
// segment percent-encoded as Href does, then XML-escaped.
func (m *Multistatus) writeHref(dir, name string) {
	w := m.w
	w.WriteString("<D:href>")
	if dir != m.dir || m.dirHref == "" {
		m.dir = dir
		if m.from != "" && strings.HasPrefix(dir, m.from) {
			dir = m.to + dir[len(m.from):]
		}
		var sb strings.Builder
		for i, seg := range strings.Split(dir, "/") {
			if i > 0 {
				sb.WriteByte('/')
			}
			escape(&sb, url.PathEscape(seg))
		}
		m.dirHref = sb.String()
	}
	w.WriteString(m.dirHref)
	if name != "" {
		escape(w, url.PathEscape(name))
	}
	w.WriteString("</D:href>")
}

// propstats writes props as one DAV:propstat per status and error, in
// the layout their shape gives (see buildShape).
func (m *Multistatus) propstats(props []PropValue) {
	m.shapeOf(props).write(m.w, props)
}

// StatusResponse writes a DAV:response that carries only a status for href:
// a 404 for a missing multiget href or a deleted sync-collection member, a
// 507 for a truncated sync-collection (RFC 6578 §3.6).
func (m *Multistatus) StatusResponse(href string, status int) error {
	if m.err != nil {
		return m.err
	}
	m.w.WriteString("<D:response><D:href>")
	escape(m.w, m.alias(href))
	m.w.WriteString("</D:href>")
	writeStatus(m.w, status)
	m.w.WriteString("</D:response>")
	return m.flushIfFull()
}

// SyncToken writes the DAV:sync-token element that ends a sync-collection
// answer (RFC 6578 §6.4).
func (m *Multistatus) SyncToken(token string) {
	if m.err != nil {
		return
	}
	m.w.WriteString("<D:sync-token>")
	escape(m.w, token)
	m.w.WriteString("</D:sync-token>")
}

// Close writes the end tag and flushes. It returns the first write error;
// the Multistatus must not be used after it.
func (m *Multistatus) Close() error {
	if m.err != nil {
		return m.err
	}
	m.w.WriteString("</D:multistatus>\n")
	if s, ok := m.out.(Sizer); ok {
		s.SetSize(m.w.Buffered())
	}
	if m.err = m.w.Flush(); m.err == nil {
		m.w.Reset(nil) // let go of the response
		if pw := m.pooled; pw != nil {
			pw.shapes = m.shapes
			writers.Put(pw)
		}
		m.w, m.shapes, m.pooled, m.err = nil, nil, nil, errClosed
		return nil
	}
	return m.err
}

// errClosed makes every method of a closed Multistatus a no-op.
var errClosed = errors.New("davxml: multistatus closed")

// writers pools the buffers of multistatus answers (a multiget answer is
// written through one, and allocating it was an eighth of a 100-object
// multiget's bytes) with the shapes last written through them, so that
// the next 100 hrefs of a client's sync find theirs built.
var writers = sync.Pool{New: func() any { return &pooledWriter{w: bufio.NewWriterSize(nil, writerSize)} }}

// writerSize is the size of a pooled multistatus buffer, and flushAt how
// full it gets before the answer so far goes to the connection. Each
// flush is a chunk of the HTTP answer and two write system calls
// (net/http's 4 KiB connection buffer is filled, then the rest written
// past it). The answer of a 100 × 1 KB calendar-multiget (163 KB with
// its line ends escaped) fits whole, and goes out in one write with a
// Content-Length (Sizer), not in chunks: with 16 KiB flushes it took
// seven (a fifth of its server CPU), with 96 KiB two and the chunked
// answer's end (TestMultistatusFlushes, TestMultigetContentLength). A
// listing still holds at most one buffer in memory per request, whatever
// its length.
const (
	writerSize = 192 << 10
	flushAt    = 176 << 10
)

// pooledWriter is what writers pools.
type pooledWriter struct {
	w      *bufio.Writer
	shapes []*shape
}

func (m *Multistatus) flushIfFull() error {
	if m.w.Buffered() > flushAt {
		m.err = m.w.Flush()
	}
	return m.err
}

// AppendResponse renders one DAV:response (for DAV:expand-property, whose
// property values contain responses) as a string.
func AppendResponse(href string, props []PropValue) string {
	var sb stringsBuilder
	m := &Multistatus{w: bufio.NewWriter(&sb)}
	m.Response(href, props)
	m.w.Flush()
	return sb.String()
}

type stringsBuilder struct{ b []byte }

func (s *stringsBuilder) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }
func (s *stringsBuilder) String() string              { return string(s.b) }

func statusOf(p PropValue) int {
	if p.Status == 0 {
		return http.StatusOK
	}
	return p.Status
}

// group is what one DAV:propstat holds: the properties of one status
// and error.
type group struct {
	status int
	err    string
}

func writeStatus(w *bufio.Writer, status int) {
	switch status {
	case http.StatusOK:
		w.WriteString("<D:status>HTTP/1.1 200 OK</D:status>")
		return
	case http.StatusNotFound:
		w.WriteString("<D:status>HTTP/1.1 404 Not Found</D:status>")
		return
	}
	w.WriteString("<D:status>HTTP/1.1 ")
	var num [8]byte
	w.Write(strconv.AppendInt(num[:0], int64(status), 10))
	w.WriteByte(' ')
	w.WriteString(http.StatusText(status))
	w.WriteString("</D:status>")
}

// StartTag writes "<prefix:local" for name, declaring its namespace when
// the multistatus root does not; the caller closes the tag with ">" or "/>".
func StartTag(w io.StringWriter, name xml.Name) {
	if p := prefix(name.Space); p != "" {
		w.WriteString("<")
		w.WriteString(p)
		w.WriteString(":")
		w.WriteString(name.Local)
		return
	}
	if name.Space == "" {
		w.WriteString("<")
		w.WriteString(name.Local)
		w.WriteString(` xmlns=""`)
		return
	}
	w.WriteString("<X:")
	w.WriteString(name.Local)
	w.WriteString(` xmlns:X="`)
	w.WriteString(EscapeString(name.Space))
	w.WriteString(`"`)
}

// EndTag writes the end tag matching StartTag.
func EndTag(w io.StringWriter, name xml.Name) {
	p := prefix(name.Space)
	switch {
	case p != "":
		w.WriteString("</")
		w.WriteString(p)
		w.WriteString(":")
	case name.Space == "":
		w.WriteString("</")
	default:
		w.WriteString("</X:")
	}
	w.WriteString(name.Local)
	w.WriteString(">")
}

// Empty returns the empty element name, written with the prefixes the
// multistatus root declares: an Inner value such as "<D:collection/>".
func Empty(name xml.Name) string {
	var sb stringsBuilder
	bw := bufio.NewWriter(&sb)
	StartTag(bw, name)
	bw.WriteString("/>")
	bw.Flush()
	return sb.String()
}

// WritePropstats writes a document whose root (DAV:mkcol-response, RFC
// 5689 §5.2, or CALDAV:mkcalendar-response, RFC 4791 §5.3.1.2) holds the
// propstats of props grouped by status.
func WritePropstats(w io.Writer, root xml.Name, props []PropValue) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	StartTag(bw, root)
	bw.WriteString(rootNamespaces + ">")
	m := &Multistatus{w: bw}
	m.propstats(props)
	EndTag(bw, root)
	return bw.Flush()
}

package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Target is one server under test, described rather than guessed: the bench
// never derives one server's URLs from another's layout.
type Target struct {
	Name     string // short name used in results, e.g. "almanac"
	BaseURL  string // scheme://host:port
	User     string
	Password string
	// CalendarHome is the path under which MKCALENDAR creates fresh calendars,
	// e.g. "/dav/home/alice/". It ends in a slash.
	CalendarHome string
	// AddressBook is the path of an existing address book, e.g.
	// "/dav/home/alice/contacts/".
	AddressBook string
	// PID is the server process whose RSS is sampled; 0 when unknown.
	PID int
	// DataDir is the server's data directory, used for the disk probe; may be empty.
	DataDir string
}

// RequestTimeout bounds one request, so a server that hangs fails the
// scenario instead of the run. The slowest request measured on a peer
// (Radicale's Depth 1 PROPFIND of 10k events) takes about half a minute.
const RequestTimeout = 5 * time.Minute

// Client sends authenticated requests to a Target.
type Client struct {
	T    Target
	HTTP *http.Client

	version atomic.Int64 // last version number used to modify an object
}

// modify PUTs a new version of event i into coll, so its ETag changes.
func (c *Client) modify(ctx context.Context, coll string, i int) (Exchange, error) {
	ev := Event(i, int(c.version.Add(1)))
	return c.Put(ctx, coll+ev.Name, CalendarType, ev.Body, false)
}

// NewClient returns a client with a connection pool sized for conc clients.
func NewClient(t Target, conc int) *Client {
	tr := &http.Transport{
		MaxIdleConns:        conc + 4,
		MaxIdleConnsPerHost: conc + 4,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &Client{T: t, HTTP: &http.Client{Transport: tr, Timeout: RequestTimeout}}
}

// Response is a fully read HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends one request to path (absolute path on the target, or full URL)
// and reads the whole response.
func (c *Client) Do(ctx context.Context, method, path string, hdr map[string]string, body []byte) (*Response, error) {
	u := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		u = c.T.BaseURL + path
	}
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.T.User != "" {
		req.SetBasicAuth(c.T.User, c.T.Password)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// StatusError is a response whose status the bench did not expect.
type StatusError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %.200s", e.Method, e.Path, e.Status, e.Body)
}

// expect checks resp.Status against the accepted codes.
func expect(method, path string, resp *Response, ok ...int) error {
	for _, s := range ok {
		if resp.Status == s {
			return nil
		}
	}
	return &StatusError{Method: method, Path: path, Status: resp.Status, Body: string(resp.Body)}
}

// HrefPath reduces an href from a multistatus (absolute URL or path,
// possibly percent-encoded) to a decoded path for comparison.
func HrefPath(href string) string {
	if u, err := url.Parse(strings.TrimSpace(href)); err == nil {
		return u.Path
	}
	return href
}

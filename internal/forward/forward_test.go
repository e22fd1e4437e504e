package forward

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/almanac/almanac/internal/natstest"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// fakeNode is one node of the tests: a Node on its own connection to a
// shared nats-server, a local handler that records what it ran, and an
// applied head.
type fakeNode struct {
	*Node
	nc      *nats.Conn
	leads   atomic.Bool
	head    atomic.Uint64
	waited  atomic.Uint64 // the last seq WaitFor was asked for
	behind  atomic.Bool   // WaitFor fails (the node does not catch up)
	handler http.HandlerFunc

	mu  sync.Mutex
	ran []*http.Request // requests the local handler ran, bodies read into body
	got [][]byte
}

func (f *fakeNode) ServeLocal(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.ran, f.got = append(f.ran, r), append(f.got, b)
	f.mu.Unlock()
	if f.handler != nil {
		f.handler(w, r)
		return
	}
	f.head.Add(1)
	w.Header().Set("ETag", `"e1"`)
	w.WriteHeader(http.StatusCreated)
}

func (f *fakeNode) runs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ran)
}

func startServer(t *testing.T) *server.Server {
	return natstest.Start(t, &server.Options{ServerName: "t", Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
}

// newNode starts a Node on s; edit changes its options.
func newNode(t *testing.T, s *server.Server, leads bool, handler http.HandlerFunc, edit func(*Options)) *fakeNode {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	f := &fakeNode{nc: nc, handler: handler}
	f.leads.Store(leads)
	opts := Options{Conn: nc, Leads: f.leads.Load, Head: f.head.Load, Poll: time.Millisecond, Beat: 20 * time.Millisecond,
		Forward: func(r *http.Request) bool { return r.Method != http.MethodGet },
		WaitFor: func(ctx context.Context, seq uint64) error {
			f.waited.Store(seq)
			if f.behind.Load() {
				return context.DeadlineExceeded
			}
			return nil
		}}
	if edit != nil {
		edit(&opts)
	}
	f.Node, err = Start(opts, http.HandlerFunc(f.ServeLocal))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(context.Background()) })
	return f
}

// subscribed waits until writer takes forwarded requests (its
// subscription reached the server).
func subscribed(t *testing.T, writer *fakeNode) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !writer.leading.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the writer does not lead a minute after it started")
		}
	}
	if err := writer.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func put(t *testing.T, h http.Handler, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPut, "/dav/alice/cal/a.ics?x=1", strings.NewReader(body))
	r.RemoteAddr = "192.0.2.7:4711"
	r.Header.Set("Authorization", "Basic YWxpY2U6cHc=")
	r.Header.Set("If-None-Match", "*")
	r.Header.Set("Connection", "keep-alive")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestForwarded: a write on a node that is not the writer runs on the
// writer's handler, with its method, path, body, credentials,
// preconditions and the client's address, and without the headers of
// the client's connection; the node relays the writer's answer after
// waiting for the writer's head.
func TestForwarded(t *testing.T) {
	s := startServer(t)
	writer := newNode(t, s, true, nil, nil)
	writer.head.Store(41)
	other := newNode(t, s, false, nil, nil)
	subscribed(t, writer)
	w := put(t, other, "BEGIN:VCALENDAR")
	if w.Code != http.StatusCreated || w.Header().Get("ETag") != `"e1"` {
		t.Fatalf("answer %d %v, want the writer's 201 with its ETag", w.Code, w.Header())
	}
	if other.runs() != 0 || writer.runs() != 1 {
		t.Fatalf("ran %d times here and %d on the writer, want 0 and 1", other.runs(), writer.runs())
	}
	r := writer.ran[0]
	if r.Method != http.MethodPut || r.URL.Path != "/dav/alice/cal/a.ics" || r.URL.RawQuery != "x=1" || string(writer.got[0]) != "BEGIN:VCALENDAR" ||
		r.Header.Get("Authorization") != "Basic YWxpY2U6cHc=" || r.Header.Get("If-None-Match") != "*" || r.RemoteAddr != "192.0.2.7:4711" {
		t.Fatalf("the writer ran %s %s %q from %s with %v", r.Method, r.URL, writer.got[0], r.RemoteAddr, r.Header)
	}
	if r.Header.Get("Connection") != "" {
		t.Fatalf("the client's Connection header reached the writer: %v", r.Header)
	}
	if other.waited.Load() != 42 {
		t.Fatalf("the node waited for %d before answering, want the writer's head after the write, 42", other.waited.Load())
	}
	if st := other.Stats(); st.Forwarded != 1 || st.Local != 0 {
		t.Fatalf("forwarding node's stats %+v", st)
	}
	if st := writer.Stats(); st.Served != 1 {
		t.Fatalf("writer's stats %+v", st)
	}
}

// TestWriterCatchesUp: the writer runs a forwarded request once it has
// applied what the forwarding node had (a user created there a moment
// ago authenticates on the writer too); a writer that does not catch up
// within its bound refuses, and the forwarding node runs the request.
func TestWriterCatchesUp(t *testing.T) {
	s := startServer(t)
	writer := newNode(t, s, true, nil, func(o *Options) { o.CatchUp = time.Millisecond })
	writer.head.Store(10)
	other := newNode(t, s, false, nil, nil)
	other.head.Store(50)
	subscribed(t, writer)
	put(t, other, "x")
	if writer.waited.Load() != 50 || writer.runs() != 1 || other.runs() != 0 {
		t.Fatalf("the writer waited for %d and ran %d, the other node ran %d; want 50, 1, 0", writer.waited.Load(), writer.runs(), other.runs())
	}
	writer.behind.Store(true)
	if w := put(t, other, "y"); w.Code != http.StatusCreated || writer.runs() != 1 || other.runs() != 1 || string(other.got[0]) != "y" {
		t.Fatalf("with the writer behind: %d, the writer ran %d, the other node %d; want it run on the other node", w.Code, writer.runs(), other.runs())
	}
	if st := writer.Stats(); st.Refused != 1 || st.Served != 1 {
		t.Fatalf("writer's stats %+v", st)
	}
}

// TestNotForwarded: reads, and every request on the writer itself, run
// where they arrive.
func TestNotForwarded(t *testing.T) {
	s := startServer(t)
	writer := newNode(t, s, true, nil, nil)
	other := newNode(t, s, false, nil, nil)
	subscribed(t, writer)
	r := httptest.NewRequest(http.MethodGet, "/dav/alice/", nil)
	other.ServeHTTP(httptest.NewRecorder(), r)
	put(t, writer, "x")
	if other.runs() != 1 || writer.runs() != 1 || writer.Stats().Served != 0 {
		t.Fatalf("ran %d here, %d on the writer (%+v), want 1 each, none forwarded", other.runs(), writer.runs(), writer.Stats())
	}
}

// TestNoWriter: with no writer elected, a node runs its writes itself
// (the server's no-responders says nobody got the request).
func TestNoWriter(t *testing.T) {
	s := startServer(t)
	other := newNode(t, s, false, nil, nil)
	if w := put(t, other, "x"); w.Code != http.StatusCreated || other.runs() != 1 || string(other.got[0]) != "x" {
		t.Fatalf("answer %d, ran %d times here, want 201 and once", w.Code, other.runs())
	}
	if st := other.Stats(); st.Local != 1 || st.Forwarded != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTooLarge: a body over the message bound runs on the node it came
// to, whole.
func TestTooLarge(t *testing.T) {
	s := startServer(t)
	writer := newNode(t, s, true, nil, nil)
	other := newNode(t, s, false, nil, func(o *Options) { o.MaxMessage = 1000 })
	subscribed(t, writer)
	body := strings.Repeat("x", 5000)
	put(t, other, body)
	if writer.runs() != 0 || other.runs() != 1 || string(other.got[0]) != body {
		t.Fatalf("ran %d on the writer, %d here (%d bytes), want only here with the whole body", writer.runs(), other.runs(), len(other.got[0]))
	}
}

// TestBusyWriter: past MaxInFlight the writer refuses and the forwarding
// node runs the request itself; nothing runs twice.
func TestBusyWriter(t *testing.T) {
	s := startServer(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	writer := newNode(t, s, true, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusNoContent)
	}, func(o *Options) { o.MaxInFlight = 1 })
	other := newNode(t, s, false, nil, nil)
	subscribed(t, writer)
	first := make(chan int)
	go func() { first <- put(t, other, "1").Code }()
	<-entered
	if w := put(t, other, "2"); w.Code != http.StatusCreated || other.runs() != 1 || string(other.got[0]) != "2" {
		t.Fatalf("second write: %d, ran %d times here", w.Code, other.runs())
	}
	close(release)
	if code := <-first; code != http.StatusNoContent || writer.runs() != 1 {
		t.Fatalf("first write: %d, ran %d times on the writer", code, writer.runs())
	}
	if st := writer.Stats(); st.Refused != 1 || st.Served != 1 {
		t.Fatalf("writer's stats %+v", st)
	}
}

// TestWriterDies: a writer that dies while it runs a forwarded write
// (its connection closes) stops sending heartbeats; the forwarding node
// answers 503 with Retry-After instead of waiting, and does not run the
// write itself (the writer may have stored it).
func TestWriterDies(t *testing.T) {
	s := startServer(t)
	entered := make(chan struct{})
	writer := newNode(t, s, true, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
	}, nil)
	other := newNode(t, s, false, nil, nil)
	subscribed(t, writer)
	go func() {
		<-entered
		writer.nc.Close()
	}()
	w := put(t, other, "x")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("answer %d %v, want 503 with Retry-After", w.Code, w.Header())
	}
	if other.runs() != 0 || other.Stats().Lost != 1 {
		t.Fatalf("ran %d times here (%+v), want none and one lost", other.runs(), other.Stats())
	}
}

// TestClientLeaves: when the forwarding node's client leaves, the
// writer's request context ends.
func TestClientLeaves(t *testing.T) {
	s := startServer(t)
	entered := make(chan struct{})
	cancelled := make(chan struct{})
	writer := newNode(t, s, true, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
		close(cancelled)
	}, nil)
	other := newNode(t, s, false, nil, nil)
	subscribed(t, writer)
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodPut, "/dav/a", strings.NewReader("x")).WithContext(ctx)
	go func() {
		<-entered
		cancel()
	}()
	other.ServeHTTP(httptest.NewRecorder(), r)
	<-cancelled // hangs (the test's timeout) unless the writer cancels
}

// TestLargeAnswer: an answer over the message bound becomes a 502 that
// says the write was done.
func TestLargeAnswer(t *testing.T) {
	s := startServer(t)
	writer := newNode(t, s, true, func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 5000))
	}, func(o *Options) { o.MaxMessage = 2000 })
	other := newNode(t, s, false, nil, nil)
	subscribed(t, writer)
	if w := put(t, other, "x"); w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "write was done") {
		t.Fatalf("answer %d %q", w.Code, w.Body)
	}
}

// TestEncodeRoundTrip: what encodeRequest writes, decodeRequest reads
// back.
func TestEncodeRoundTrip(t *testing.T) {
	r := httptest.NewRequest("PROPPATCH", "/dav/a%20b/?q=1", nil)
	r.Header.Set("Depth", "0")
	r.Header.Add("X-Many", "1")
	r.Header.Add("X-Many", "2")
	data, err := encodeRequest(r, []byte("<x/>"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRequest(data)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	if got.Method != "PROPPATCH" || got.URL.EscapedPath() != "/dav/a%20b/" || got.URL.RawQuery != "q=1" || string(body) != "<x/>" ||
		got.Header.Get("Depth") != "0" || strings.Join(got.Header.Values("X-Many"), ",") != "1,2" || got.UserAgent() != "" || got.Host != r.Host {
		t.Fatalf("decoded %s %s %q %v host %q", got.Method, got.URL, body, got.Header, got.Host)
	}
}

// FuzzDecode: the decoders take any bytes without panicking, and a
// request they accept encodes again to one they read the same: method,
// body and request target (path and query, what the writer routes on). A
// target in absolute form ("http://h/dav/x", or "t:" with no path) is
// forwarded in origin form ("/dav/x", "/"), as a proxy does: the host
// travels in the Host header.
func FuzzDecode(f *testing.F) {
	r := httptest.NewRequest(http.MethodPut, "/dav/x", nil)
	seed, _ := encodeRequest(r, []byte("body"))
	f.Add(seed)
	f.Add([]byte("HTTP/1.1 201 Created\r\nETag: \"1\"\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
	f.Add([]byte("GET http://h/dav/x?q=1 HTTP/1.1\r\nHost: h\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decodeResponse(data, r)
		req, err := decodeRequest(data)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		again, err := encodeRequest(req, body)
		if err != nil {
			return
		}
		back, err := decodeRequest(again)
		if err != nil {
			t.Fatalf("re-encoded request does not decode: %v\n%q", err, again)
		}
		body2, _ := io.ReadAll(back.Body)
		if back.Method != req.Method || back.URL.RequestURI() != req.URL.RequestURI() || !bytes.Equal(body, body2) {
			t.Fatalf("round trip changed %s %s %q into %s %s %q", req.Method, req.URL.RequestURI(), body, back.Method, back.URL.RequestURI(), body2)
		}
	})
}

// TestSlowWriter: a writer that is alive but sends no heartbeat in time
// (a starved CPU delays them by seconds) says so when the forwarding node
// probes it, and the node relays its answer instead of a 503. Before the
// probe, four missed beats were a 503 whatever the writer was doing (the
// cluster tests' 503s under load 40).
func TestSlowWriter(t *testing.T) {
	s := startServer(t)
	var forwarder atomic.Pointer[fakeNode] // set before the request is sent
	answered := make(chan struct{})        // the forwarding node answered its client
	writer := newNode(t, s, true, func(w http.ResponseWriter, r *http.Request) {
		for forwarder.Load().Stats().Probed < 3 {
			select {
			case <-answered: // without probes: a 503 already
				return
			case <-time.After(time.Millisecond):
			}
		}
		w.WriteHeader(http.StatusCreated)
	}, func(o *Options) { o.Beat = time.Hour }) // its beats never come
	other := newNode(t, s, false, nil, nil)
	forwarder.Store(other)
	subscribed(t, writer)
	w := put(t, other, "x")
	close(answered)
	if w.Code != http.StatusCreated {
		t.Fatalf("answer %d %q, want the writer's 201", w.Code, w.Body)
	}
	if st := other.Stats(); st.Lost != 0 || st.Forwarded != 1 || other.runs() != 0 || writer.runs() != 1 {
		t.Fatalf("stats %+v, ran %d times here and %d on the writer, want it forwarded and run once there", st, other.runs(), writer.runs())
	}
}

// TestSilentWriter: a writer that takes a forwarded request and then
// neither beats nor answers probes (frozen, or cut off with its routes
// still up) ends the wait after Silence with 503, and the node does not
// run the request itself.
func TestSilentWriter(t *testing.T) {
	s := startServer(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.QueueSubscribe("almanac-fwd.req", "writer", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	other := newNode(t, s, false, nil, func(o *Options) { o.Silence = 200 * time.Millisecond })
	w := put(t, other, "x")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("answer %d %v, want 503 with Retry-After", w.Code, w.Header())
	}
	if st := other.Stats(); st.Lost != 1 || st.Probed == 0 || other.runs() != 0 {
		t.Fatalf("stats %+v, ran %d times here: want one lost after probes, not run here", st, other.runs())
	}
}

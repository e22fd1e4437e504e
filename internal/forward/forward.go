// Package forward sends a cluster node's client writes to the cluster's
// one writer and relays its answers.
//
// With compare-and-set from every node (engine.SharedLog), nodes that
// write at once race for the log's next sequence number and the losers
// catch up and run their commands again: at 32 concurrent writers on
// three nodes a third of the appends lose. Forwarding removes the race:
// one node (the writer; cmd/almanac makes it the node whose embedded NATS
// server leads the log stream, so its appends do not cross the network
// twice) runs every forwarded write, and its group commit batches them.
// It removes conflicts; it adds no correctness dependency: the writer
// still appends with compare-and-set, and a node that cannot forward (no
// writer elected, the writer refused, the request is too large for a
// message) runs the request itself, with compare-and-set as before.
//
// The requests travel over the cluster's NATS as HTTP/1.1 messages
// (net/http writes and parses them), not over HTTP to the writer's
// listener: the nodes already share an authenticated NATS (route secret,
// route TLS), so no node needs another's HTTP address, certificate or a
// trusted header for the client's address, which rides in a NATS header
// only peers can set. The writer runs a forwarded request through the
// same handler as its own clients' (credentials checked there, every
// limit applied, the client's address for the per-address limits), and
// answers with the log sequence number it had applied afterwards; the
// forwarding node answers its client once it has applied that far too,
// so the client reads its write on the node it wrote to.
//
// While it runs a request the writer sends a heartbeat every Beat. A
// forwarding node that misses four asks the writer whether it still runs
// the request (a probe, on the requests' subject, so that it comes after
// the request): a writer that is alive but slow (a starved CPU delays its
// beats by seconds) says so and the node waits on; when no writer listens
// (it died: NATS answers at once that nobody does) or the one that
// answers does not run the request, or nothing is heard from the writer
// for Silence, the node answers 503 with Retry-After: the write may or
// may not be stored, as when a node loses its log mid-append. A
// forwarding node whose client leaves tells the writer, which cancels the
// request's context.
//
// The package knows HTTP and NATS only; cmd/almanac hands it the
// election (Leads) and the engine's head (Head, WaitFor).
package forward

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Options configure a Node.
type Options struct {
	// Conn is the node's connection to the cluster's NATS.
	Conn *nats.Conn
	// Subject prefix of the forwarding messages. Default "almanac-fwd".
	Subject string
	// Leads reports whether this node is the writer now. It is asked
	// every Poll; the writer answers forwarded requests, the others
	// forward theirs.
	Leads func() bool
	// Forward reports whether a client request is a write to forward.
	Forward func(*http.Request) bool
	// Head returns the log sequence number this node has applied.
	Head func() uint64
	// WaitFor returns once this node has applied seq, or ctx ends.
	WaitFor func(ctx context.Context, seq uint64) error
	// MaxMessage bounds a forwarded request or answer in bytes. Default
	// the connection's max payload less 64 KiB for headers. A request
	// with a larger body runs on this node.
	MaxMessage int
	// MaxInFlight bounds the forwarded requests the writer runs at
	// once; past it the writer refuses, and the forwarding node runs the
	// request itself. Default 512.
	MaxInFlight int
	// Timeout bounds a forwarded request on the writer. Default 2 min.
	Timeout time.Duration
	// ApplyWait bounds how long a forwarding node waits to apply the
	// writer's answer's sequence number before it answers anyway (the
	// write is stored; only reading it on this node lags). Default 10 s.
	ApplyWait time.Duration
	// CatchUp bounds how long the writer waits to apply what the
	// forwarding node had applied when it forwarded a request (a user
	// or grant it created a moment ago), before it refuses the request
	// and the forwarding node runs it itself. Default 1 s.
	CatchUp time.Duration
	// Beat is the writer's heartbeat interval; a forwarding node that
	// misses four asks the writer whether it still runs the request.
	// Default 500 ms.
	Beat time.Duration
	// Silence bounds how long a forwarding node waits without hearing
	// from the writer (a heartbeat, or its answer that it still runs the
	// request) before it answers 503. Default 10 s, the engine's bound
	// on a write to the log.
	Silence time.Duration
	// Poll is how often Leads is asked. Default 100 ms.
	Poll time.Duration
	// Logger reports refusals and lost writers. Default slog.Default().
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Subject == "" {
		o.Subject = "almanac-fwd"
	}
	if o.MaxMessage == 0 {
		o.MaxMessage = max(int(o.Conn.MaxPayload())-64<<10, 64<<10)
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 512
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.ApplyWait == 0 {
		o.ApplyWait = 10 * time.Second
	}
	if o.CatchUp == 0 {
		o.CatchUp = time.Second
	}
	if o.Beat == 0 {
		o.Beat = 500 * time.Millisecond
	}
	if o.Silence == 0 {
		o.Silence = 10 * time.Second
	}
	if o.Poll == 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// NATS headers of the forwarding messages.
const (
	hdrKind   = "Almanac-Forward" // kind of a writer's message (beat, answer, refused, running, unknown), or a probe
	hdrClient = "Almanac-Client"  // the client's address (http.Request.RemoteAddr)
	hdrSeq    = "Almanac-Seq"     // the writer's applied sequence number after the request
	hdrAfter  = "Almanac-After"   // the forwarding node's applied sequence number before it
	hdrID     = "Almanac-Id"      // a cancel's or a probe's request (its reply subject)
)

// The kinds of the writer's messages to a forwarding node, and of a
// forwarding node's probe.
const (
	kindBeat    = "beat"    // still running
	kindAnswer  = "answer"  // the HTTP answer
	kindRefused = "refused" // not run: the forwarding node runs it itself
	kindProbe   = "probe"   // a forwarding node asks: do you still run hdrID?
	kindRunning = "running" // the answer to a probe: yes
	kindUnknown = "unknown" // the answer to a probe: no (never got it, or done)
)

// Stats counts what a node did.
type Stats struct {
	Forwarded int64 // requests this node forwarded and relayed the answer of
	Local     int64 // writes run here because no writer answered, it refused, or the body was too large
	Lost      int64 // forwarded requests whose writer stopped answering (503)
	Probed    int64 // probes sent: a writer missed four heartbeats
	Served    int64 // forwarded requests this node ran as the writer
	Refused   int64 // forwarded requests this node refused (busy, or not a write)
}

// Node forwards this node's client writes to the writer and, while it
// is the writer, runs the others'. Its ServeHTTP is the middleware.
type Node struct {
	opts  Options
	local http.Handler
	ctx   context.Context
	stop  context.CancelFunc
	done  chan struct{}

	inbox   string // prefix of this node's reply subjects
	replies *nats.Subscription
	cancels *nats.Subscription
	nextID  atomic.Uint64
	mu      sync.Mutex
	waiting map[string]*waiter // reply subject → its forwarding request
	running map[string]context.CancelFunc

	leading  atomic.Bool // this node is the writer (Leads at the last Poll)
	sem      chan struct{}
	inFlight sync.WaitGroup

	forwarded, localRuns, lost, served, refused, probed atomic.Int64
}

// Start subscribes to the writers' answers and to cancels, and starts
// watching Leads; local is the handler every request runs through on the
// node that runs it (the forwarding node's, for what it does not forward;
// the writer's, for what it is forwarded).
func Start(opts Options, local http.Handler) (*Node, error) {
	opts.defaults()
	n := &Node{opts: opts, local: local, done: make(chan struct{}), inbox: nats.NewInbox(),
		waiting: map[string]*waiter{}, running: map[string]context.CancelFunc{}, sem: make(chan struct{}, opts.MaxInFlight)}
	n.ctx, n.stop = context.WithCancel(context.Background())
	var err error
	if n.replies, err = opts.Conn.Subscribe(n.inbox+".*", n.reply); err != nil {
		return nil, fmt.Errorf("forward: subscribe to answers: %w", err)
	}
	if n.cancels, err = opts.Conn.Subscribe(opts.Subject+".cancel", n.cancel); err != nil {
		_ = n.replies.Unsubscribe()
		return nil, fmt.Errorf("forward: subscribe to cancels: %w", err)
	}
	for _, s := range []*nats.Subscription{n.replies, n.cancels} {
		// Bounded by what is in flight (MaxInFlight on a writer); the
		// limits only keep a slow consumer from being cut off.
		_ = s.SetPendingLimits(-1, -1)
	}
	if err := opts.Conn.Flush(); err != nil {
		n.Close(context.Background())
		return nil, fmt.Errorf("forward: %w", err)
	}
	go n.elect()
	return n, nil
}

// Stats returns the node's counts.
func (n *Node) Stats() Stats {
	return Stats{Forwarded: n.forwarded.Load(), Local: n.localRuns.Load(), Lost: n.lost.Load(), Served: n.served.Load(), Refused: n.refused.Load(),
		Probed: n.probed.Load()}
}

// Close stops forwarding and answering, and waits until the forwarded
// requests this node runs have answered or ctx ends (then cancels them).
func (n *Node) Close(ctx context.Context) {
	n.stop()
	<-n.done
	_ = n.cancels.Unsubscribe()
	wait := make(chan struct{})
	go func() { n.inFlight.Wait(); close(wait) }()
	select {
	case <-wait:
	case <-ctx.Done():
		n.mu.Lock()
		for _, cancel := range n.running {
			cancel()
		}
		n.mu.Unlock()
		<-wait
	}
	_ = n.replies.Unsubscribe()
}

// elect subscribes to forwarded requests while Leads says this node is
// the writer, asking every Poll. Two nodes may both take requests for a
// moment after the stream's leadership moves, or none: the requests are
// correct either way (compare-and-set), and with none the forwarding
// nodes run them themselves.
func (n *Node) elect() {
	defer close(n.done)
	var sub *nats.Subscription
	t := time.NewTicker(n.opts.Poll)
	defer t.Stop()
	for {
		leads := n.opts.Leads()
		switch {
		case leads && sub == nil:
			var err error
			if sub, err = n.opts.Conn.QueueSubscribe(n.opts.Subject+".req", "writer", n.serve); err != nil {
				n.opts.Logger.Warn("forward: cannot take forwarded writes", "err", err)
				sub = nil
			} else {
				_ = sub.SetPendingLimits(-1, -1)
				n.opts.Logger.Info("forward: this node is the cluster's writer")
			}
		case !leads && sub != nil:
			_ = sub.Unsubscribe()
			sub = nil
			n.opts.Logger.Info("forward: this node is no longer the cluster's writer")
		}
		n.leading.Store(sub != nil)
		select {
		case <-n.ctx.Done():
			if sub != nil {
				_ = sub.Unsubscribe()
			}
			return
		case <-t.C:
		}
	}
}

// ServeHTTP forwards r to the writer when it is a write (Options.Forward)
// and this node is not the writer, and runs it here otherwise.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n.ctx.Err() != nil || n.leading.Load() || !n.opts.Forward(r) {
		n.local.ServeHTTP(w, r)
		return
	}
	body, whole, err := readUpTo(r.Body, n.opts.MaxMessage)
	if err != nil {
		// The client's body broke off: nothing to answer it with.
		return
	}
	if !whole {
		// Too large for one message: run it here, where the handler's
		// own body limits answer it as they would on the writer.
		n.localRuns.Add(1)
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		n.local.ServeHTTP(w, r)
		return
	}
	if ran := n.forward(w, r, body); !ran {
		n.localRuns.Add(1)
		r.Body = io.NopCloser(bytes.NewReader(body))
		n.local.ServeHTTP(w, r)
	}
}

// readUpTo reads r to its end if it holds at most max bytes (whole), else
// the first max+1.
func readUpTo(r io.Reader, max int) (b []byte, whole bool, err error) {
	if r == nil || r == http.NoBody {
		return nil, true, nil
	}
	b, err = io.ReadAll(io.LimitReader(r, int64(max)+1))
	return b, len(b) <= max, err
}

// forward sends r to the writer and relays its answer. It reports false
// when the writer did not run r (none answers, it refused, r does not fit
// in a message): the caller runs it here.
func (n *Node) forward(w http.ResponseWriter, r *http.Request, body []byte) (ran bool) {
	data, err := encodeRequest(r, body)
	if err != nil || len(data) > n.opts.MaxMessage {
		return false
	}
	reply := n.inbox + "." + strconv.FormatUint(n.nextID.Add(1), 36)
	wt := &waiter{beat: make(chan struct{}, 1), last: make(chan *nats.Msg, 1)}
	n.mu.Lock()
	n.waiting[reply] = wt
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.waiting, reply)
		n.mu.Unlock()
	}()
	msg := &nats.Msg{Subject: n.opts.Subject + ".req", Reply: reply, Data: data, Header: nats.Header{}}
	msg.Header.Set(hdrClient, r.RemoteAddr)
	msg.Header.Set(hdrAfter, strconv.FormatUint(n.opts.Head(), 10))
	if err := n.opts.Conn.PublishMsg(msg); err != nil {
		return false
	}
	missed := time.NewTimer(4 * n.opts.Beat)
	defer missed.Stop()
	heard := time.Now() // when the writer last said it runs the request
	probed := false     // a probe went out: the request may have run
	for {
		select {
		case <-wt.beat:
			heard = time.Now()
			missed.Reset(4 * n.opts.Beat)
		case m := <-wt.last:
			switch kind := m.Header.Get(hdrKind); {
			case kind == kindAnswer:
				n.relay(w, r, m)
				return true
			case kind == kindRefused, !probed:
				return false // refused, or no writer subscribed: it did not run
			}
			// The probe's answer: no writer listens, or the one that
			// answered does not run the request.
			n.lostWriter(w, r, "the writer does not run it")
			return true
		case <-missed.C:
			if time.Since(heard) >= n.opts.Silence {
				n.lostWriter(w, r, "nothing heard from the writer for "+n.opts.Silence.String())
				return true
			}
			n.probe(reply)
			probed = true
			missed.Reset(4 * n.opts.Beat)
		case <-r.Context().Done():
			// The client left: the writer stops the request too.
			cancel := &nats.Msg{Subject: n.opts.Subject + ".cancel", Header: nats.Header{}}
			cancel.Header.Set(hdrID, reply)
			_ = n.opts.Conn.PublishMsg(cancel)
			return true
		}
	}
}

// probe asks the writer whether it still runs the request whose answers
// go to reply. It goes where the request went (the requests' subject, so
// the writer's subscription takes it after the request), and its answer
// comes to reply, after any answer the writer sent before it: running
// counts as a heartbeat, unknown (or NATS's no-responders: no writer
// listens) ends the wait with 503.
func (n *Node) probe(reply string) {
	n.probed.Add(1)
	m := &nats.Msg{Subject: n.opts.Subject + ".req", Reply: reply, Header: nats.Header{}}
	m.Header.Set(hdrKind, kindProbe)
	m.Header.Set(hdrID, reply)
	_ = n.opts.Conn.PublishMsg(m)
}

// lostWriter answers 503: the writer stopped answering a forwarded write,
// which it may or may not have stored.
func (n *Node) lostWriter(w http.ResponseWriter, r *http.Request, why string) {
	n.lost.Add(1)
	n.opts.Logger.Warn("forward: the writer stopped answering a forwarded write; it may or may not be stored", "method", r.Method, "path", r.URL.Path, "why", why)
	w.Header().Set("Retry-After", "1")
	http.Error(w, "the cluster's writer stopped answering during the write: it may or may not be stored; try again (with If-Match or If-None-Match to be safe)", http.StatusServiceUnavailable)
}

// relay writes the writer's answer m to w once this node has applied the
// sequence number the writer had applied after the request (bounded by
// ApplyWait).
func (n *Node) relay(w http.ResponseWriter, r *http.Request, m *nats.Msg) {
	resp, err := decodeResponse(m.Data, r)
	if err != nil {
		// The writer ran the request: its outcome is unknown here.
		n.opts.Logger.Error("forward: the writer's answer does not parse", "err", err)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the cluster's writer's answer was unreadable: the write may or may not be stored", http.StatusServiceUnavailable)
		return
	}
	n.forwarded.Add(1)
	if seq, err := strconv.ParseUint(m.Header.Get(hdrSeq), 10, 64); err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), n.opts.ApplyWait)
		if err := n.opts.WaitFor(ctx, seq); err != nil && r.Context().Err() == nil {
			n.opts.Logger.Warn("forward: answering before applying the forwarded write", "seq", seq, "head", n.opts.Head(), "err", err)
		}
		cancel()
	}
	h := w.Header()
	for k, v := range resp.Header {
		if !hopByHop[k] {
			h[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// hopByHop are the headers that describe one connection, not the
// message (RFC 9110 §7.6.1), which a proxy does not pass on.
var hopByHop = map[string]bool{"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Expect": true}

// waiter is a forwarding request waiting for the writer.
type waiter struct {
	beat chan struct{}  // a heartbeat came (one waiting is enough)
	last chan *nats.Msg // the answer, the refusal, or the server's no-responders
}

// reply routes a writer's message (or the server's no-responders status)
// to the forwarding request waiting for it.
func (n *Node) reply(m *nats.Msg) {
	n.mu.Lock()
	wt := n.waiting[m.Subject]
	n.mu.Unlock()
	if wt == nil {
		return // its client left, or it gave up
	}
	ch := wt.last
	if kind := m.Header.Get(hdrKind); kind == kindBeat || kind == kindRunning {
		select {
		case wt.beat <- struct{}{}:
		default:
		}
		return
	}
	select {
	case ch <- m:
	default: // a request has one last message
	}
}

// cancel cancels the forwarded request a forwarding node's client left.
func (n *Node) cancel(m *nats.Msg) {
	n.mu.Lock()
	cancel := n.running[m.Header.Get(hdrID)]
	n.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// serve runs a forwarded request on the writer and answers it.
func (n *Node) serve(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	if m.Header.Get(hdrKind) == kindProbe {
		n.answerProbe(m)
		return
	}
	select {
	case n.sem <- struct{}{}:
	default:
		n.refuse(m, "busy")
		return
	}
	r, err := decodeRequest(m.Data)
	if err != nil || !n.opts.Forward(r) {
		<-n.sem
		n.refuse(m, "not a forwardable write")
		return
	}
	n.inFlight.Add(1)
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.Timeout)
	n.mu.Lock()
	n.running[m.Reply] = cancel
	n.mu.Unlock()
	go func() {
		defer func() {
			n.mu.Lock()
			delete(n.running, m.Reply)
			n.mu.Unlock()
			cancel()
			<-n.sem
			n.inFlight.Done()
		}()
		r.RemoteAddr = m.Header.Get(hdrClient)
		r = r.WithContext(ctx)
		stopBeats := n.beat(m.Reply)
		if !n.caughtUp(ctx, m.Header.Get(hdrAfter)) {
			stopBeats()
			n.refuse(m, "behind the forwarding node")
			return
		}
		rec := &recorder{header: http.Header{}, max: n.opts.MaxMessage}
		n.local.ServeHTTP(rec, r)
		stopBeats()
		n.served.Add(1)
		out := nats.NewMsg(m.Reply)
		out.Header.Set(hdrKind, kindAnswer)
		out.Header.Set(hdrSeq, strconv.FormatUint(n.opts.Head(), 10))
		out.Data = rec.encode()
		if err := n.opts.Conn.PublishMsg(out); err != nil {
			n.opts.Logger.Warn("forward: cannot send the answer of a forwarded write", "err", err)
		}
	}()
}

// answerProbe tells a forwarding node whether this writer runs the
// request the probe names. The probe came through the subscription the
// request came through, after it: a request this writer got is in
// running, or its answer went out before this one.
func (n *Node) answerProbe(m *nats.Msg) {
	n.mu.Lock()
	_, running := n.running[m.Header.Get(hdrID)]
	n.mu.Unlock()
	out := nats.NewMsg(m.Reply)
	out.Header.Set(hdrKind, kindUnknown)
	if running {
		out.Header.Set(hdrKind, kindRunning)
	}
	_ = n.opts.Conn.PublishMsg(out)
}

// caughtUp waits (at most CatchUp) until the writer has applied the
// sequence number after, what the forwarding node had applied when it
// forwarded: the request is then checked against everything its client
// could have seen there (causal order), as it would be on that node. A
// writer that does not catch up in time reports false: the forwarding
// node runs the request itself.
func (n *Node) caughtUp(ctx context.Context, after string) bool {
	seq, err := strconv.ParseUint(after, 10, 64)
	if err != nil || seq <= n.opts.Head() {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, n.opts.CatchUp)
	defer cancel()
	return n.opts.WaitFor(ctx, seq) == nil
}

// beat sends heartbeats to reply every Beat until the returned function
// is called.
func (n *Node) beat(reply string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(n.opts.Beat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				m := nats.NewMsg(reply)
				m.Header.Set(hdrKind, kindBeat)
				_ = n.opts.Conn.PublishMsg(m)
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// refuse tells the forwarding node to run the request itself.
func (n *Node) refuse(m *nats.Msg, why string) {
	n.refused.Add(1)
	n.opts.Logger.Debug("forward: refused a forwarded request", "why", why)
	out := nats.NewMsg(m.Reply)
	out.Header.Set(hdrKind, kindRefused)
	_ = n.opts.Conn.PublishMsg(out)
}

// encodeRequest writes r with body as an HTTP/1.1 request, without the
// headers of r's connection. The target goes in origin form (path and
// query; Write sends URL.RequestURI()). A target with none, as an opaque
// URI ("a:0", whose RequestURI "0" is no request target), is an error:
// the caller runs such a request itself.
func encodeRequest(r *http.Request, body []byte) ([]byte, error) {
	if u := r.URL.RequestURI(); u != "*" && !strings.HasPrefix(u, "/") {
		return nil, fmt.Errorf("forward: encode request: target %q has no origin form", u)
	}
	out := &http.Request{Method: r.Method, URL: r.URL, Host: r.Host, Header: r.Header.Clone(),
		ContentLength: int64(len(body)), Body: io.NopCloser(bytes.NewReader(body))}
	for k := range hopByHop {
		delete(out.Header, k)
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // Write would add Go's own
	}
	var buf bytes.Buffer
	buf.Grow(len(body) + 1024)
	if err := out.Write(&buf); err != nil {
		return nil, fmt.Errorf("forward: encode request: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeRequest parses a forwarded request as a server's request, its
// body read in full (it is the whole message).
func decodeRequest(data []byte) (*http.Request, error) {
	br := bufio.NewReader(bytes.NewReader(data))
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil, fmt.Errorf("forward: decode request: %w", err)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("forward: decode request body: %w", err)
	}
	if br.Buffered() != 0 {
		return nil, errors.New("forward: decode request: bytes after the body")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return r, nil
}

// decodeResponse parses a writer's answer to req, its body read in full.
func decodeResponse(data []byte, req *http.Request) (*http.Response, error) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), req)
	if err != nil {
		return nil, fmt.Errorf("forward: decode answer: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("forward: decode answer body: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// recorder collects a forwarded request's answer on the writer, its body
// up to max bytes.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	max    int
	over   bool
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	if rec.body.Len()+len(p) > rec.max {
		rec.over = true
		return 0, errors.New("forward: the answer is larger than a forwarding message")
	}
	return rec.body.Write(p)
}

// encode writes the answer as an HTTP/1.1 response. An answer too large
// for a message (none of the forwarded writes' answers is near it: they
// are a status, headers and at most a short multistatus) becomes a 502
// saying so; the write it answers is done.
func (rec *recorder) encode() []byte {
	status, header, body := rec.status, rec.header, rec.body.Bytes()
	if status == 0 {
		status = http.StatusOK
	}
	if rec.over {
		status, header = http.StatusBadGateway, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
		body = []byte("the write was done, but its answer is larger than the cluster forwards between nodes\n")
	}
	resp := &http.Response{StatusCode: status, ProtoMajor: 1, ProtoMinor: 1, Header: header,
		ContentLength: int64(len(body)), Body: io.NopCloser(bytes.NewReader(body))}
	var buf bytes.Buffer
	buf.Grow(len(body) + 512)
	_ = resp.Write(&buf) // fails only when writing to buf does, which it never does
	return buf.Bytes()
}

package feed

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

func decodeProto(b []byte, c *feedv1.Change) error { return proto.Unmarshal(b, c) }

// TestPublisherRejectedMidWindow: the broker rejects one change of a
// window of unacknowledged publishes (here: larger than the stream's
// MaxMsgSize) and would accept the next ones. None of them may be stored
// before it: every publish after the first of a session expects the stream
// sequence of its predecessor. A size rejection repeats forever, so the
// publisher publishes that change again without its body (BodyOmitted),
// and the stream holds the log in order.
func TestPublisherRejectedMidWindow(t *testing.T) {
	dir := t.TempDir()
	db := MustOpenDB(t)
	ns := MustNATS(t, filepath.Join(dir, "nats"), "")
	nc := MustConnect(t, ns)
	js, err := jetstream.New(mustOperator(t, ns))
	if err != nil {
		t.Fatal(err)
	}
	ctx := deadline(t, time.Minute)
	cfg := jetstream.StreamConfig{Name: "ALMANAC", Subjects: []string{SubjectPrefix + ".>"}, MaxMsgSize: 4096, Duplicates: time.Minute}
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		MustPut(t, db, "alice", fmt.Sprintf("a%d.ics", i))
	}
	big, err := db.PutObject(bg, engine.Meta{Actor: "alice"}, home("alice")+"calendar/", "big.ics", ical("big", 8000), engine.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		MustPut(t, db, "alice", fmt.Sprintf("b%d.ics", i))
	}
	p, _ := runPublisher(t, PublisherOptions{DB: db, Conn: nc, IncludeBody: true, MaxInFlight: 1000, RetryWait: time.Hour})
	waitFor(t, 30*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
	got := streamChanges(t, nc, "ALMANAC", decodeProto)
	if diff := cmp.Diff(expected(t, db, allChanges), seqs(got)); diff != "" {
		t.Errorf("stream differs from the log (-want +got):\n%s", diff)
	}
	for _, c := range got {
		switch {
		case c.Seq == uint64(big.Seq) && (!c.BodyOmitted || len(c.Body) != 0):
			t.Errorf("the large change: body %d bytes, omitted %v; want it left out", len(c.Body), c.BodyOmitted)
		case c.Seq != uint64(big.Seq) && c.Op == feedv1.Op_OP_OBJECT_PUT && len(c.Body) == 0:
			t.Errorf("change %d lost its body", c.Seq)
		}
	}
}

// TestPublisherConnectionCutMidWindow: the connection to NATS breaks while
// hundreds of publishes are unacknowledged, some stored by the broker (their
// acknowledgements lost) and some lost on the way, and changes keep coming
// while the client reconnects. The publisher starts over from its cursor;
// the stream holds every change once, in order.
func TestPublisherConnectionCutMidWindow(t *testing.T) {
	dir := t.TempDir()
	db := MustOpenDB(t)
	ns := MustNATS(t, filepath.Join(dir, "nats"), "127.0.0.1:0")
	px := startProxy(t, ns.Addr().String())
	nc, err := nats.Connect("nats://"+px.addr(), ns.Auth(), nats.ReconnectBufSize(-1), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	direct := MustConnect(t, ns)
	p, _ := runPublisher(t, PublisherOptions{DB: db, Conn: nc, MaxInFlight: 4096, RetryWait: 20 * time.Millisecond})
	MustPut(t, db, "alice", "first.ics")
	waitFor(t, 30*time.Second, "the first publish", func() bool { return p.Cursor() == db.Head() })

	stop := writeUntilStopped(t, db)
	// Acknowledgements stop coming back; publishes still reach the broker.
	px.down.hold()
	var stored engine.Seq
	waitFor(t, 30*time.Second, "the broker to store 300 unacknowledged changes", func() bool {
		stored = lastStored(t, direct)
		return stored >= p.Cursor()+300
	})
	// Publishes stop reaching the broker too.
	px.up.hold()
	head := db.Head()
	waitFor(t, 30*time.Second, "100 more changes", func() bool { return db.Head() >= head+100 })
	cursor := p.Cursor()
	px.cut()
	if stored-cursor < 300 {
		t.Fatalf("stored %d, cursor %d at the cut: want a window of at least 300 unacknowledged changes", stored, cursor)
	}
	waitFor(t, 60*time.Second, "publishing to resume", func() bool { return p.Cursor() > db.Head()-min(db.Head(), 100) && p.Cursor() > stored })
	stop()
	waitFor(t, 60*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
	got := streamChanges(t, direct, "ALMANAC", decodeProto)
	if diff := cmp.Diff(expected(t, db, allChanges), seqs(got)); diff != "" {
		t.Errorf("stream differs from the log (-want +got):\n%s", diff)
	}
}

// TestPublisherForeignMessage: something else stores a message in the
// stream while the publisher runs. Its next publish expects another last
// sequence and is rejected; it starts over at once (RetryWait is an hour
// here), without an error, and no change is lost, repeated or reordered.
func TestPublisherForeignMessage(t *testing.T) {
	dir := t.TempDir()
	db := MustOpenDB(t)
	ns := MustNATS(t, filepath.Join(dir, "nats"), "")
	nc := MustConnect(t, ns)
	p, _ := runPublisher(t, PublisherOptions{DB: db, Conn: nc, RetryWait: time.Hour})
	MustPut(t, db, "alice", "first.ics")
	waitFor(t, 30*time.Second, "the first publish", func() bool { return p.Cursor() == db.Head() })
	js, err := jetstream.New(MustConnect(t, ns))
	if err != nil {
		t.Fatal(err)
	}
	const foreign = SubjectPrefix + ".foreign"
	if _, err := js.Publish(deadline(t, 10*time.Second), foreign, []byte("not a change")); err != nil {
		t.Fatal(err)
	}
	// Concurrent writers commit events in groups, which the publisher
	// sends several at a time: the first is rejected, and without the
	// expected last message ID the second would take its place.
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				MustPut(t, db, "alice", fmt.Sprintf("after%d-%d.ics", w, i))
			}
		})
	}
	wg.Wait()
	waitFor(t, 30*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
	if err := p.Err(); err != nil {
		t.Errorf("publisher error: %v", err)
	}
	var got []*feedv1.Change
	for _, m := range streamMsgs(t, nc, "ALMANAC") {
		if m.Subject == foreign {
			continue
		}
		got = append(got, decodeMsg(t, m, decodeProto))
	}
	if diff := cmp.Diff(expected(t, db, allChanges), seqs(got)); diff != "" {
		t.Errorf("stream differs from the log (-want +got):\n%s", diff)
	}
}

// writeUntilStopped writes objects for alice with 4 writers until the
// returned stop is called.
func writeUntilStopped(tb testing.TB, db *engine.DB) (stop func()) {
	tb.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d.ics", w, i)
				if _, err := db.PutObject(bg, engine.Meta{Actor: "alice"}, home("alice")+"calendar/", name, ical(name, 0), engine.PutOptions{}); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	tb.Cleanup(stop)
	return stop
}

// lastStored returns the log seq of the last change in the stream (its
// Nats-Msg-Id), 0 when it is empty.
func lastStored(tb testing.TB, nc *nats.Conn) engine.Seq {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := deadline(tb, 10*time.Second)
	s, err := js.Stream(ctx, "ALMANAC")
	if err != nil {
		tb.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs == 0 {
		return 0
	}
	m, err := s.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		tb.Fatal(err)
	}
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.MsgIDHeader), 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return engine.Seq(seq)
}

// proxy forwards TCP connections to a target, as a network would; the test
// can hold back either direction and cut every connection.
type proxy struct {
	l        net.Listener
	target   string
	up, down gate // client to target, target to client

	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(tb testing.TB, target string) *proxy {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	px := &proxy{l: l, target: target}
	px.up.open()
	px.down.open()
	done := make(chan struct{})
	go func() { defer close(done); px.serve() }()
	tb.Cleanup(func() { l.Close(); px.closeAll(); <-done })
	return px
}

func (px *proxy) addr() string { return px.l.Addr().String() }

func (px *proxy) serve() {
	for {
		c, err := px.l.Accept()
		if err != nil {
			return
		}
		t, err := net.Dial("tcp", px.target)
		if err != nil {
			c.Close()
			continue
		}
		px.mu.Lock()
		px.conns = append(px.conns, c, t)
		px.mu.Unlock()
		go px.pipe(t, c, &px.up)
		go px.pipe(c, t, &px.down)
	}
}

// pipe copies src to dst while g is open; once held, at most the read in
// progress still passes.
func (px *proxy) pipe(dst, src net.Conn, g *gate) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		if !g.wait() {
			return
		}
		n, err := src.Read(buf)
		if n > 0 && g.isOpen() {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// cut closes every connection and opens both directions for the next ones.
func (px *proxy) cut() {
	px.closeAll()
	px.up.open()
	px.down.open()
}

func (px *proxy) closeAll() {
	px.mu.Lock()
	conns := px.conns
	px.conns = nil
	px.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	px.up.release()
	px.down.release()
}

// gate lets data through while open. A held gate drops what was read when
// it closed and blocks further reads until it opens or is released.
type gate struct {
	mu   sync.Mutex
	held bool
	ch   chan struct{} // closed to wake waiters
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = false
	if g.ch != nil {
		close(g.ch)
	}
	g.ch = make(chan struct{})
}

func (g *gate) hold() {
	g.mu.Lock()
	g.held = true
	g.mu.Unlock()
}

// release wakes the waiters of a held gate so that they see their
// connection closed.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.ch)
	g.ch = make(chan struct{})
}

func (g *gate) isOpen() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.held
}

// wait blocks while the gate is held; false means it was released (the
// connection is being cut).
func (g *gate) wait() bool {
	g.mu.Lock()
	if !g.held {
		g.mu.Unlock()
		return true
	}
	ch := g.ch
	g.mu.Unlock()
	<-ch
	return g.isOpen()
}

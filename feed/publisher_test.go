package feed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/testport"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// MustNATS starts an embedded server with its store in dir; listen "" is
// in-process only, "127.0.0.1:0" a random port.
//
// Every test server has the publisher password testPassword (a client
// reconnects to a restarted one) and a user "operator" (password
// "operator") who may do anything.
func MustNATS(tb testing.TB, dir, listen string) *Embedded {
	tb.Helper()
	ns, err := StartEmbedded(EmbeddedOptions{StoreDir: dir, Listen: listen, ListenFlag: "--nats-listen",
		password: testPassword, extraUsers: []*server.User{{Username: "operator", Password: "operator"}}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// MustConnect connects to ns as the publisher, the way a Publisher
// requires: without a reconnect buffer. opts come after.
func MustConnect(tb testing.TB, ns *Embedded, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := ns.Connect(append([]nats.Option{nats.ReconnectBufSize(-1)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

const testPassword = "test-publisher-password"

// mustOperator connects to ns as a user who may do anything.
func mustOperator(tb testing.TB, ns *Embedded) *nats.Conn {
	tb.Helper()
	opts := []nats.Option{nats.UserInfo("operator", "operator")}
	if ns.Addr() == nil {
		opts = append(opts, nats.InProcessServer(ns.Server))
	}
	nc, err := nats.Connect(ns.ClientURL(), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// runPublisher runs a publisher until the returned stop is called (or the
// test ends).
func runPublisher(tb testing.TB, opts PublisherOptions) (*Publisher, func()) {
	tb.Helper()
	p, err := NewPublisher(opts)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("publisher: %v", err)
			}
		}
	}
	tb.Cleanup(stop)
	return p, stop
}

// waitSaved waits for the engine cursor name to be stored at want: the
// publisher stores it off the publish path, at most about once a second.
func waitSaved(tb testing.TB, db *engine.DB, name string, want engine.Seq) {
	tb.Helper()
	var got engine.Seq
	var err error
	waitFor(tb, time.Minute, fmt.Sprintf("the stored cursor %s to reach %d", name, want), func() bool {
		got, err = db.Cursor(name)
		return err != nil || got == want
	})
	if err != nil {
		tb.Fatalf("cursor %s: %v", name, err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// streamChanges reads every message of the stream in order, checking that
// Nats-Msg-Id is the change's seq and the subject is Subject(change).
func streamChanges(tb testing.TB, nc *nats.Conn, name string, decode func([]byte, *feedv1.Change) error) []*feedv1.Change {
	tb.Helper()
	var out []*feedv1.Change
	for _, m := range streamMsgs(tb, nc, name) {
		out = append(out, decodeMsg(tb, m, decode))
	}
	return out
}

// streamMsgs reads every message of the stream in order.
func streamMsgs(tb testing.TB, nc *nats.Conn, name string) []*jetstream.RawStreamMsg {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := deadline(tb, 30*time.Second)
	s, err := js.Stream(ctx, name)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted (a forgery, a purge)
		}
		if err != nil {
			tb.Fatalf("stream msg %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

// decodeMsg decodes the change in m, checking that Nats-Msg-Id is its seq
// and the subject is Subject(change).
func decodeMsg(tb testing.TB, m *jetstream.RawStreamMsg, decode func([]byte, *feedv1.Change) error) *feedv1.Change {
	tb.Helper()
	ch := &feedv1.Change{}
	if err := decode(m.Data, ch); err != nil {
		tb.Fatalf("stream msg %d: %v", m.Sequence, err)
	}
	if id, ok := MsgSeq(m.Header.Get(jetstream.MsgIDHeader)); !ok || uint64(id) != ch.Seq {
		tb.Errorf("msg %d: Nats-Msg-Id %q for change %d", m.Sequence, m.Header.Get(jetstream.MsgIDHeader), ch.Seq)
	}
	if want := Subject(ch); m.Subject != want {
		tb.Errorf("msg %d: subject %q, want %q", m.Sequence, m.Subject, want)
	}
	return ch
}

func allChanges(*engine.Event, string) bool { return true }

func TestPublishEveryChangeOnce(t *testing.T) {
	for _, tc := range []struct {
		format string
		decode func([]byte, *feedv1.Change) error
	}{
		{FormatProto, func(b []byte, c *feedv1.Change) error { return proto.Unmarshal(b, c) }},
		{FormatJSON, func(b []byte, c *feedv1.Change) error { return protojson.Unmarshal(b, c) }},
	} {
		t.Run(tc.format, func(t *testing.T) {
			dir := t.TempDir()
			db := MustOpenDB(t)
			ns := MustNATS(t, filepath.Join(dir, "nats"), "")
			nc := MustConnect(t, ns)
			p, _ := runPublisher(t, PublisherOptions{DB: db, Conn: nc,
				Format: tc.format, IncludeBody: true, MaxInFlight: 64})
			writeMix(t, db, 100)
			waitFor(t, 30*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
			got := streamChanges(t, nc, "ALMANAC", tc.decode)
			if diff := cmp.Diff(expected(t, db, allChanges), seqs(got)); diff != "" {
				t.Errorf("stream differs from the log (-want +got):\n%s", diff)
			}
			for _, c := range got {
				if c.Op == feedv1.Op_OP_OBJECT_PUT && len(c.Body) == 0 {
					t.Errorf("put %d without body", c.Seq)
				}
			}
			waitSaved(t, db, "nats:ALMANAC", db.Head())
		})
	}
}

// TestPublisherNATSDown: while NATS is down the cursor stands still and
// nothing is lost; when it returns the backlog drains.
func TestPublisherNATSDown(t *testing.T) {
	dir := t.TempDir()
	db := MustOpenDB(t)
	// NATS starts again on its port below: held for the test, so that
	// no other process takes it while NATS is down (a port-0 one could
	// go to any bind to port 0 or outgoing connection meanwhile).
	ns := MustNATS(t, filepath.Join(dir, "nats"), testport.Addrs(t, 1)[0])
	addr := ns.Addr().(*net.TCPAddr)
	nc := MustConnect(t, ns, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	p, _ := runPublisher(t, PublisherOptions{DB: db, Conn: nc,
		AckTimeout: 300 * time.Millisecond, RetryWait: 20 * time.Millisecond})
	MustPut(t, db, "alice", "first.ics")
	waitFor(t, 30*time.Second, "the first publish", func() bool { return p.Cursor() == db.Head() })

	ns.Shutdown()
	ns.WaitForShutdown()
	before := p.Cursor()
	for i := range 200 {
		MustPut(t, db, "alice", fmt.Sprintf("down%d.ics", i))
	}
	waitFor(t, 30*time.Second, "the publisher to notice", func() bool { return p.Err() != nil })
	if p.Cursor() != before {
		t.Fatalf("cursor moved from %d to %d while NATS was down", before, p.Cursor())
	}
	MustNATS(t, filepath.Join(dir, "nats"), addr.String())
	waitFor(t, 30*time.Second, "the backlog to drain", func() bool { return p.Cursor() == db.Head() })
	if err := p.Err(); err != nil {
		t.Errorf("publisher error after recovery: %v", err)
	}
	got := streamChanges(t, nc, "ALMANAC", func(b []byte, c *feedv1.Change) error { return proto.Unmarshal(b, c) })
	if diff := cmp.Diff(expected(t, db, allChanges), seqs(got)); diff != "" {
		t.Errorf("stream differs from the log (-want +got):\n%s", diff)
	}
}

func TestEmbeddedPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = StartEmbedded(EmbeddedOptions{StoreDir: t.TempDir(), Listen: l.Addr().String(), ListenFlag: "--nats-listen"})
	if err == nil || !containsAll(err.Error(), "--nats-listen", l.Addr().String()) {
		t.Errorf("err = %v, want one naming --nats-listen and the address", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

package tcpproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer accepts on loopback and echoes every line back; each
// connection it accepted is sent on conns.
func echoServer(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go io.Copy(c, c)
		}
	}()
	return ln.Addr().String(), conns
}

// roundTrip sends a line through c and reads it back; the error of the
// first step that failed.
func roundTrip(c net.Conn, line string) error {
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// closedByPeer reports whether c reads EOF (or a reset) within 10 s.
func closedByPeer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

// newProxy starts a proxy to target, closed when the test ends.
func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// dial connects to addr, closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestProxy(t *testing.T) {
	target, accepted := echoServer(t)
	p := newProxy(t, target)

	c1 := dial(t, p.Addr())
	if err := roundTrip(c1, "before the cut"); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	serverSide := <-accepted

	// Cut closes both ends of the open connection: the client and the
	// target each read the end, as they would after a broken link.
	p.Cut()
	if !closedByPeer(c1) {
		t.Fatal("the client's connection is still open after Cut")
	}
	if !closedByPeer(serverSide) {
		t.Fatal("the target's connection is still open after Cut")
	}
	// A new connection is refused while cut: accepted and closed, never
	// reaching the target.
	c2 := dial(t, p.Addr())
	if !closedByPeer(c2) {
		t.Fatal("a connection made while cut was not closed")
	}
	select {
	case <-accepted:
		t.Fatal("a connection made while cut reached the target")
	default:
	}

	// Heal lets new connections through again.
	p.Heal()
	c3 := dial(t, p.Addr())
	if err := roundTrip(c3, "after healing"); err != nil {
		t.Fatalf("through the healed proxy: %v", err)
	}

	// Close ends the open connection and the listener.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !closedByPeer(c3) {
		t.Fatal("a connection is still open after Close")
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Fatal("the proxy still accepts after Close")
	}
}

// TestProxyTargetDown: a connection to a target that refuses is closed,
// not left open.
func TestProxyTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()
	p := newProxy(t, target)
	c := dial(t, p.Addr())
	if !closedByPeer(c) {
		t.Fatal("a connection to a target that refuses stayed open")
	}
}

// TestProxyBlackHole: a black-holed proxy keeps its connections open and
// forwards nothing either way, on an old connection or a new one; after
// Heal the bytes held arrive and the connections carry on.
func TestProxyBlackHole(t *testing.T) {
	target, accepted := echoServer(t)
	p := newProxy(t, target)
	c1 := dial(t, p.Addr())
	if err := roundTrip(c1, "before the hole"); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	<-accepted

	p.BlackHole()
	if _, err := io.WriteString(c1, "into the hole\n"); err != nil {
		t.Fatalf("writing into the hole: %v", err)
	}
	c2 := dial(t, p.Addr())
	if _, err := io.WriteString(c2, "new, into the hole\n"); err != nil {
		t.Fatalf("writing into the hole on a new connection: %v", err)
	}
	// Nothing comes back, and neither connection is closed: a read
	// times out. (The echo server answers at once; 300 ms is a margin
	// for a reply that should never come, not a wait for one.)
	for i, c := range []net.Conn{c1, c2} {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Read(make([]byte, 64))
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Fatalf("connection %d read %d bytes, %v through a black hole; want a timeout", i+1, n, err)
		}
	}

	p.Heal()
	for i, c := range []net.Conn{c1, c2} {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		got, err := r.ReadString('\n')
		want := []string{"into the hole\n", "new, into the hole\n"}[i]
		if err != nil || got != want {
			t.Fatalf("connection %d after Heal: %q, %v; want the held %q", i+1, got, err, want)
		}
		if err := roundTrip(c, "after healing"); err != nil {
			t.Fatalf("connection %d after Heal: %v", i+1, err)
		}
	}

	// Close ends a black-holed connection too, and returns.
	p.BlackHole()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !closedByPeer(c1) {
		t.Fatal("a black-holed connection is still open after Close")
	}
}

// Package tcpproxy is a TCP proxy for tests that cut a link between two
// processes and heal it again: it accepts on loopback and pipes each
// connection both ways to one target. Cut closes every connection it
// carries and refuses new ones (they are accepted and closed at once, as
// a peer whose network is gone answers a reconnect); BlackHole keeps
// every connection open and silently stops forwarding bytes either way,
// on old and new connections alike (a firewall that drops packets: no
// reset, no close, nothing arrives); Heal lets bytes and new connections
// through again.
package tcpproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Proxy forwards the connections it accepts to its target. Its methods
// are safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener

	mu     sync.Mutex
	open   *sync.Cond // signalled when holed ends
	cut    bool
	holed  bool // black-holed: bytes wait in the pipes until Heal
	closed bool
	conns  map[net.Conn]struct{} // both ends of every open pipe
	wg     sync.WaitGroup
}

// New starts a proxy on a free port of 127.0.0.1 that forwards to target
// (host:port).
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tcpproxy: listen: %w", err)
	}
	p := &Proxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.open = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address (host:port) the proxy accepts on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection the proxy carries and refuses new ones
// until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.holed = false
	p.open.Broadcast()
	p.closeConnsLocked()
}

// BlackHole keeps every connection open, accepts new ones, and forwards
// nothing either way until Heal: the bytes either side sends wait in the
// proxy and the kernels' buffers, as TCP's retransmissions hold them
// behind a firewall that drops packets, and arrive after Heal unless an
// end gave up on its connection first.
func (p *Proxy) BlackHole() {
	p.mu.Lock()
	p.holed = true
	p.mu.Unlock()
}

// Heal lets new connections through again after Cut, and bytes again
// after BlackHole.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.cut = false
	p.holed = false
	p.open.Broadcast()
	p.mu.Unlock()
}

// Close stops accepting, closes every connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.holed = false
	p.open.Broadcast()
	p.closeConnsLocked()
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) closeConnsLocked() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a transient accept error (out of descriptors): go on
		}
		p.mu.Lock()
		refuse := p.cut || p.closed
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go p.pipe(c)
	}
}

// pipe dials the target for the accepted connection c and copies both
// ways until either side closes, then closes both.
func (p *Proxy) pipe(c net.Conn) {
	defer p.wg.Done()
	t, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut || p.closed { // cut while dialling
		p.mu.Unlock()
		c.Close()
		t.Close()
		return
	}
	p.conns[c], p.conns[t] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	copyTo := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, gated{src, p})
		done <- struct{}{}
	}
	go copyTo(t, c)
	go copyTo(c, t)
	<-done // one direction ended: end both, as a broken link does
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, t)
	p.mu.Unlock()
	c.Close()
	t.Close()
	<-done
}

// gated reads from a connection and holds what it read while the proxy
// is black-holed (Read returns only once the bytes may go on).
type gated struct {
	net.Conn
	p *Proxy
}

func (g gated) Read(b []byte) (int, error) {
	n, err := g.Conn.Read(b)
	g.p.mu.Lock()
	for g.p.holed {
		g.p.open.Wait()
	}
	g.p.mu.Unlock()
	return n, err
}

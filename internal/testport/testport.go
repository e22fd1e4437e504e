// Package testport hands out loopback TCP ports for servers a test (or
// the bench) must name before they start: a cluster's route ports, the
// listeners of a child process, slapd's.
//
// A port chosen by listening on 127.0.0.1:0 and closing the listener can
// be taken by any other process before the server binds it: the kernel
// gives it to the next bind to port 0 or to the next outgoing
// connection. The server then fails with "address already in use", or,
// worse, a readiness probe reaches the other process and takes its answer
// for the server's (CI's TestScaleSmoke measured another test's server
// that way in session 18). The ports handed out here are outside the
// kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range),
// which the kernel never picks on its own, and each is held by an
// exclusive lock on a file under /tmp/almanac-testports until it is
// released, so that no other user of this package takes it either, in
// this process or another. A server may also stop and bind the same port
// again (a cluster node killed and restarted) while the port is held.
//
// Only a process that binds the port by number without this package can
// still take it; ListensOn tells whether the server's own process holds
// a listening socket.
package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Reservation is a set of held ports; Release gives them back.
type Reservation struct {
	// Ports are the held ports, distinct.
	Ports []int

	mu    sync.Mutex
	locks []*os.File // the locks, nil once released
}

// Release gives the ports back; a port stays free for whoever takes it
// next, and a server still listening on it keeps it. Calling Release
// again, or on nil, does nothing.
func (r *Reservation) Release() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.locks {
		f.Close() // closing the descriptor drops its lock
	}
	r.locks = nil
}

// Addrs returns the ports as 127.0.0.1:PORT addresses.
func (r *Reservation) Addrs() []string {
	addrs := make([]string, len(r.Ports))
	for i, p := range r.Ports {
		addrs[i] = "127.0.0.1:" + strconv.Itoa(p)
	}
	return addrs
}

// lockDir is where the ports' lock files are: one directory for every
// process on the machine whatever its TMPDIR, since the ports are the
// machine's.
var lockDir = "/tmp/almanac-testports"

// Reserve holds n distinct loopback ports that nothing listened on when
// they were chosen, outside the kernel's ephemeral range, until Release.
// It fails when it cannot find n.
func Reserve(n int) (*Reservation, error) {
	lo, hi := portRange()
	if err := os.MkdirAll(lockDir, 0o777); err != nil {
		return nil, fmt.Errorf("testport: %w", err)
	}
	_ = os.Chmod(lockDir, 0o777|os.ModeSticky) // other users' tests share it; fails harmlessly when theirs
	r := &Reservation{}
	size := hi - lo
	start := rand.IntN(size)
	for i := 0; i < size && len(r.Ports) < n; i++ {
		port := lo + (start+i)%size
		if f, ok := take(port); ok {
			r.Ports = append(r.Ports, port)
			r.locks = append(r.locks, f)
		}
	}
	if len(r.Ports) < n {
		r.Release()
		return nil, fmt.Errorf("testport: %d of %d ports free in [%d, %d)", len(r.Ports), n, lo, hi)
	}
	return r, nil
}

// take locks port's file and checks that nothing listens on the port; it
// returns the locked file, or false when the port is taken.
func take(port int) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(lockDir, strconv.Itoa(port)), os.O_RDONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, false
	}
	if !tryLock(f) {
		f.Close()
		return nil, false
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		f.Close()
		return nil, false
	}
	l.Close()
	return f, true
}

// portRange returns the ports to hand out, [lo, hi): outside the
// kernel's ephemeral range (Linux's default when it cannot be read).
func portRange() (lo, hi int) {
	elo, ehi := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			a, errA := strconv.Atoi(f[0])
			z, errZ := strconv.Atoi(f[1])
			if errA == nil && errZ == nil && a <= z {
				elo, ehi = a, z
			}
		}
	}
	return outside(elo, ehi)
}

// outside returns the larger of the ranges below and above the ephemeral
// range [elo, ehi] (below Linux's default: 16384-32767), none below 1024;
// when neither holds 64 ports, 16384-32767 anyway (the lock alone keeps
// other users of this package off a port then).
func outside(elo, ehi int) (lo, hi int) {
	lo, hi = max(1024, elo/2), elo
	if 65536-(ehi+1) > hi-lo {
		lo, hi = ehi+1, 65536
	}
	if hi-lo < 64 {
		lo, hi = 16384, 32768
	}
	return lo, hi
}

// TB is the part of testing.TB that Ports and Addrs use.
type TB interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

// Ports reserves n ports (Reserve) for the rest of tb, failing tb when it
// cannot.
func Ports(tb TB, n int) []int {
	tb.Helper()
	r, err := Reserve(n)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.Release)
	return r.Ports
}

// Addrs is Ports as 127.0.0.1:PORT addresses.
func Addrs(tb TB, n int) []string {
	tb.Helper()
	r, err := Reserve(n)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.Release)
	return r.Addrs()
}

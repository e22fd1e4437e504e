package testport

import (
	"net"
	"strconv"
	"testing"
)

// TestOutside: the ports handed out are outside the ephemeral range,
// below it when there is more room there, above it otherwise.
func TestOutside(t *testing.T) {
	for _, c := range []struct{ elo, ehi, lo, hi int }{
		{32768, 60999, 16384, 32768}, // Linux's default
		{49152, 65535, 24576, 49152}, // IANA's
		{10000, 20000, 20001, 65536}, // more room above
		{1024, 65535, 16384, 32768},  // no room: the lock alone
	} {
		if lo, hi := outside(c.elo, c.ehi); lo != c.lo || hi != c.hi {
			t.Errorf("ephemeral [%d, %d]: [%d, %d), want [%d, %d)", c.elo, c.ehi, lo, hi, c.lo, c.hi)
		}
	}
}

// TestReserve: the ports are distinct, outside the ephemeral range and
// free; a held port is not handed out again until it is released; a port
// something listens on is not handed out.
func TestReserve(t *testing.T) {
	lockDir = t.TempDir() // no other test's locks
	t.Cleanup(func() { lockDir = "/tmp/almanac-testports" })
	r, err := Reserve(8)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := portRange()
	seen := map[int]bool{}
	for _, p := range r.Ports {
		if p < lo || p >= hi || seen[p] {
			t.Fatalf("ports %v: %d is outside [%d, %d) or twice", r.Ports, p, lo, hi)
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("reserved port %d does not bind: %v", p, err)
		}
		l.Close()
	}
	held := r.Ports[0]
	if f, ok := take(held); ok {
		f.Close()
		t.Fatalf("port %d was taken again while reserved", held)
	}
	r.Release()
	f, ok := take(held)
	if !ok {
		t.Fatalf("port %d is not taken after its release", held)
	}
	f.Close()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	if f, ok := take(busy); ok {
		f.Close()
		t.Fatalf("port %d was taken while something listens on it", busy)
	}
}

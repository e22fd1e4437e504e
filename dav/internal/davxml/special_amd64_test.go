package davxml

import (
	"math/rand/v2"
	"testing"
)

// TestSpecialBits checks the assembly specialBits against specialBitsGo
// (the masks, and whether a byte is from 0x80 on) for every byte value at
// every position of a block, among bytes that need no escape and bytes
// from 0x80 on, and on random blocks.
func TestSpecialBits(t *testing.T) {
	check := func(s []byte) {
		t.Helper()
		got, want := make([]uint64, len(s)/64), make([]uint64, len(s)/64)
		high, wantHigh := specialBits(s, got), specialBitsGo(s, want)
		if high != wantHigh {
			t.Fatalf("specialBits(%q) reports a byte from 0x80 on: %v, want %v", s, high, wantHigh)
		}
		for b := range want {
			if got[b] != want[b] {
				t.Fatalf("specialBits(%q)[%d] = %#x, want %#x", s[64*b:64*b+64], b, got[b], want[b])
			}
		}
	}
	for _, fill := range []byte{'a', 0x80, 0xFF, '\t', '\n', 0x1F, 0x20} {
		for pos := range 128 {
			for c := range 256 {
				s := make([]byte, 128)
				for i := range s {
					s[i] = fill
				}
				s[pos] = byte(c)
				check(s)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		s := make([]byte, 64*(1+r.IntN(8)))
		for i := range s {
			s[i] = byte(r.IntN(0x48)) // mostly below '>'
		}
		if r.IntN(2) == 0 {
			s[r.IntN(len(s))] = byte(0x80 + r.IntN(0x80))
		}
		check(s)
	}
	specialBits(nil, nil) // no block: nothing read or written
}

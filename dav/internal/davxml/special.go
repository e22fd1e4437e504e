package davxml

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"unicode/utf8"
)

// appendEscapedBits is appendEscapedASCII with the bytes to escape found
// by specialBits, 1 KiB of s at a time: the runs between them are copied
// whole and each escape written in one store. With specialBits in SIMD
// assembly it costs under two instructions per byte of s plus a few
// dozen per escape, where appendEscapedASCII's word
// test costs five to eight per byte. FuzzEscapeText and
// TestAppendEscapedASCII check it against escape.
func appendEscapedBits(buf, s []byte) ([]byte, bool) {
	buf = slices.Grow(buf, len(s)*maxEscape+escapeSlack)
	out := buf[:cap(buf)]
	n, last := len(buf), 0 // written of out; read of s
	// The bits of 1 KiB of s a round: the array is zeroed per call, and
	// a multiget's bodies are about a KiB.
	var mask [16]uint64
	high := false
	for base := 0; base < len(s); base += len(mask) * 64 {
		block := s[base:min(base+len(mask)*64, len(s))]
		full := len(block) &^ 63
		h := specialBits(block[:full], mask[:full/64])
		high = high || h
		for w, m := range mask[:full/64] {
			for ; m != 0; m &= m - 1 {
				i := base + w*64 + bits.TrailingZeros64(m)
				if run := i - last; run <= 32 && last+32 <= len(s) {
					// Four word moves instead of a call: the bytes past
					// the run land in out's room and are overwritten next
					// (out has maxEscape bytes per byte of s left, and
					// s holds 32 from last).
					copy32(out[n:n+32], s[last:last+32])
					n += run
				} else {
					n += copy(out[n:], s[last:i])
				}
				c := s[i]
				binary.LittleEndian.PutUint64(out[n:n+8], escapeWords[c])
				n += int(escapeLens[c])
				last = i + 1
			}
		}
		for i := base + full; i < base+len(block); i++ {
			if c := s[i]; special[c] {
				n += copy(out[n:], s[last:i])
				n += copy(out[n:], escapes[c&(utf8.RuneSelf-1)])
				last = i + 1
			}
		}
	}
	n += copy(out[n:], s[last:])
	return out[:n], high || hasHigh(s[len(s)&^63:])
}

// hasHigh reports whether a byte of s is 0x80 or above, for the few bytes
// past specialBits' last block.
func hasHigh(s []byte) bool {
	var or uint64
	for ; len(s) >= 8; s = s[8:] {
		or |= binary.LittleEndian.Uint64(s)
	}
	for _, c := range s {
		or |= uint64(c)
	}
	return or&highs != 0
}

// copy32 copies the 32 bytes of src to dst in four word moves, which a
// call to copy costs several times over for the short runs between
// escapes.
func copy32(dst, src []byte) {
	_, _ = dst[31], src[31]
	binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(src))
	binary.LittleEndian.PutUint64(dst[8:], binary.LittleEndian.Uint64(src[8:]))
	binary.LittleEndian.PutUint64(dst[16:], binary.LittleEndian.Uint64(src[16:]))
	binary.LittleEndian.PutUint64(dst[24:], binary.LittleEndian.Uint64(src[24:]))
}

// specialBitsGo is specialBits in Go: bit i of bits[b] is set when
// special marks s[64b+i]; high is whether a byte of s is 0x80 or above.
func specialBitsGo(s []byte, bits []uint64) (high bool) {
	for b := range bits {
		var m uint64
		for i, c := range s[64*b : 64*b+64] {
			if special[c] {
				m |= 1 << i
			}
			high = high || c >= utf8.RuneSelf
		}
		bits[b] = m
	}
	return high
}

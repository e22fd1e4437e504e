package davxml

// specialBits sets bits[b] to the mask of the bytes of s[64b:64b+64] that
// special marks (bit i for s[64b+i]), for every block b, and reports
// whether a byte of s is 0x80 or above: len(s) must be len(bits)*64. It
// is SSE2 assembly, 16 bytes per compare (special_amd64.s); specialBitsGo
// is its definition (TestSpecialBits).
//
//go:noescape
func specialBits(s []byte, bits []uint64) (high bool)

// appendEscaped is appendEscapedBits on amd64, where specialBits is
// assembly.
func appendEscaped(buf, s []byte) ([]byte, bool) { return appendEscapedBits(buf, s) }

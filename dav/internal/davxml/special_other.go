//go:build !amd64

package davxml

// specialBits is specialBitsGo where it has no assembly.
func specialBits(s []byte, bits []uint64) bool { return specialBitsGo(s, bits) }

// appendEscaped is appendEscapedASCII where specialBits has no assembly:
// its word test is then faster than appendEscapedBits.
func appendEscaped(buf, s []byte) ([]byte, bool) { return appendEscapedASCII(buf, s) }

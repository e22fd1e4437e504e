package dav

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// TestReadAll checks readAll against io.ReadAll for bodies shorter,
// longer and as long as announced, unannounced, and larger than what it
// allocates ahead, read in small pieces.
func TestReadAll(t *testing.T) {
	for _, n := range []int{0, 1, 511, 5000, maxPresized + 3000} {
		body := bytes.Repeat([]byte("<href>x</href>"), n/14+1)[:n]
		for _, size := range []int64{-1, 0, int64(n) - 1, int64(n), int64(n) + 1, 3 * maxPresized} {
			got, err := readAll(iotest.HalfReader(bytes.NewReader(body)), size)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("readAll(%d bytes, size %d) = %d bytes, %v", n, size, len(got), err)
			}
			if size == int64(n) && n < maxPresized && cap(got) != n+1 {
				t.Errorf("readAll(%d bytes, size %d): capacity %d, want %d", n, size, cap(got), n+1)
			}
		}
	}
	if _, err := readAll(iotest.ErrReader(io.ErrUnexpectedEOF), 10); err != io.ErrUnexpectedEOF {
		t.Errorf("readAll of a failing reader: %v", err)
	}
}

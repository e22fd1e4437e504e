package keys

import (
	"bytes"
	"testing"
)

func TestLogKeyRoundTrip(t *testing.T) {
	for _, seq := range []uint64{0, 1, 255, 256, 1 << 40, ^uint64(0)} {
		got, err := ParseLogKey(LogKey(seq))
		if err != nil || got != seq {
			t.Fatalf("ParseLogKey(LogKey(%d)) = %d, %v", seq, got, err)
		}
		if k := AppendLogKey([]byte("pre"), seq); !bytes.Equal(k, append([]byte("pre"), LogKey(seq)...)) {
			t.Fatalf("AppendLogKey(pre, %d) = %x", seq, k)
		}
	}
	if _, err := ParseLogKey([]byte("x")); err == nil {
		t.Fatal("ParseLogKey accepted a malformed key")
	}
}

func TestOrder(t *testing.T) {
	if bytes.Compare(LogKey(255), LogKey(256)) >= 0 {
		t.Fatal("log keys do not sort by sequence number")
	}
	if bytes.Compare(ChangeKey(1, 9, "z"), ChangeKey(2, 1, "a")) >= 0 {
		t.Fatal("change keys do not sort by collection first")
	}
	if bytes.Compare(ObjHistKey(1, "a", 9), ObjHistKey(1, "a.ics", 1)) >= 0 {
		t.Fatal("history of name a sorts after a longer name")
	}
	p := IDPrefix(Obj, 7)
	if k := ObjKey(7, "x"); !bytes.HasPrefix(k, p) || bytes.Compare(k, PrefixEnd(p)) >= 0 {
		t.Fatal("ObjKey outside its collection's prefix range")
	}
}

func TestPrefixEnd(t *testing.T) {
	if got := PrefixEnd([]byte{1, 0xff}); !bytes.Equal(got, []byte{2}) {
		t.Fatalf("PrefixEnd = %x", got)
	}
	if got := PrefixEnd([]byte{0xff}); got != nil {
		t.Fatalf("PrefixEnd(ff) = %x, want nil", got)
	}
}

func FuzzKeys(f *testing.F) {
	f.Add(uint64(1), uint64(2), "name.ics")
	f.Fuzz(func(t *testing.T, id, seq uint64, name string) {
		if got, err := Name(ObjKey(id, name)); err != nil || got != name {
			t.Fatalf("Name(ObjKey) = %q, %v", got, err)
		}
		if got, err := IDSeq(ChangeKey(id, seq, name)); err != nil || got != seq {
			t.Fatalf("IDSeq(ChangeKey) = %d, %v", got, err)
		}
		if got, err := TrailingSeq(ObjHistKey(id, name, seq)); err != nil || got != seq {
			t.Fatalf("TrailingSeq(ObjHistKey) = %d, %v", got, err)
		}
		if got, err := ParsePathKey(PathKey(name)); err != nil || got != name {
			t.Fatalf("ParsePathKey = %q, %v", got, err)
		}
		_, _ = ParseLogKey([]byte(name))
		_, _ = IDSeq([]byte(name))
		_, _ = TrailingSeq([]byte(name))
	})
}

// TestPrefixesAfterLog: every projection family sorts after the log (a
// prefix below 'L' broke Rebuild's ingestion under the log) and no two
// families share a prefix.
func TestPrefixesAfterLog(t *testing.T) {
	seen := map[byte]bool{Log: true, Meta: true}
	for _, p := range ProjectionPrefixes {
		if p <= Log {
			t.Errorf("projection prefix %q sorts before the log's %q", p, Log)
		}
		if seen[p] {
			t.Errorf("prefix %q used twice", p)
		}
		seen[p] = true
	}
}

package jslog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/nats-io/nats.go/jetstream"
)

// TestCompressedBlocks: the log's stream is S2-compressed, a full block
// shrinks on disk once sealed, and every record reads back whole, from
// the compressed block and from the raw one being written.
func TestCompressedBlocks(t *testing.T) {
	s := startCluster(t, 1)[0]
	l := mustLog(t, s, 1)
	st, err := l.js.Stream(ctx, l.opts.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().Config.Compression; c != jetstream.S2Compression {
		t.Fatalf("stream compression %v, want s2", c)
	}
	// 12 records of 900 KB (iCalendar-like text): 10.8 MB, past the
	// first 8 MiB block.
	var recs [][]byte
	for i := range 12 {
		recs = append(recs, []byte(strings.Repeat(fmt.Sprintf("BEGIN:VEVENT\r\nUID:%d\r\nSUMMARY:x\r\nEND:VEVENT\r\n", i), 900_000/45)))
		if err := l.Append(ctx, engine.Seq(i), recs[i:]); err != nil {
			t.Fatal(err)
		}
	}
	raw := int64(0)
	for _, r := range recs {
		raw += int64(len(r))
	}
	blocks := filepath.Join(s.JetStreamConfig().StoreDir, "$G", "streams", l.opts.Stream, "msgs")
	deadline := time.Now().Add(30 * time.Second)
	for {
		onDisk := int64(0)
		names, _ := filepath.Glob(filepath.Join(blocks, "*.blk"))
		for _, n := range names {
			if fi, err := os.Stat(n); err == nil {
				onDisk += fi.Size()
			}
		}
		if len(names) > 1 && onDisk < raw/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d blocks hold %d bytes of %d raw, want the sealed one compressed", len(names), onDisk, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, err := l.Read(ctx, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("read %d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		if !bytes.Equal(got[i], recs[i]) {
			t.Fatalf("record %d differs after compression", i+1)
		}
	}
}

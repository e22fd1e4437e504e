package feed

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// TestStreamMaxBytes: a stream created with MaxBytes keeps at most that
// many bytes, dropping the oldest changes: the publisher still publishes
// every change (its cursor reaches the head), and the stream holds the
// newest ones, in order, up to the last.
func TestStreamMaxBytes(t *testing.T) {
	const limit = 1 << 20
	db := MustOpenDB(t)
	ns := MustNATS(t, filepath.Join(t.TempDir(), "nats"), "")
	nc := MustConnect(t, ns)
	p, _ := runPublisher(t, PublisherOptions{DB: db, Conn: nc, IncludeBody: true,
		Stream: StreamConfig{MaxBytes: limit}})
	for i := range 300 { // 300 changes of ~8 KB: 2.4 MB
		name := fmt.Sprintf("e%d.ics", i)
		if _, err := db.PutObject(bg, engine.Meta{Actor: "alice"}, home("alice")+"calendar/", name, ical(name, 8000), engine.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := deadline(t, 30*time.Second)
	s, err := js.Stream(ctx, "ALMANAC")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxBytes != limit || info.Config.Discard != jetstream.DiscardOld || info.Config.Compression != jetstream.S2Compression {
		t.Errorf("stream config: max bytes %d, discard %v, compression %v", info.Config.MaxBytes, info.Config.Discard, info.Config.Compression)
	}
	if info.State.Bytes > limit || info.State.FirstSeq == 1 {
		t.Errorf("stream holds %d bytes from stream seq %d, want at most %d and the oldest dropped", info.State.Bytes, info.State.FirstSeq, limit)
	}
	got := streamChanges(t, nc, "ALMANAC", func(b []byte, c *feedv1.Change) error { return proto.Unmarshal(b, c) })
	if len(got) < 50 {
		t.Fatalf("stream keeps %d changes, want the newest ~100", len(got))
	}
	if last := got[len(got)-1].Seq; last != uint64(db.Head()) {
		t.Fatalf("the stream's last change is %d, want the head %d", last, db.Head())
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq != got[i-1].Seq+1 {
			t.Fatalf("changes %d and %d follow each other in the stream", got[i-1].Seq, got[i].Seq)
		}
	}
}

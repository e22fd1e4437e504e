package feed

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestPublisherForgedDuplicate: someone who may publish to the stream
// (an external server's other user; the embedded server lets nobody) stores
// messages under the Nats-Msg-Ids of the next changes before the publisher
// sends them, so JetStream answers those publishes as duplicates. The
// publisher reads each stored message, sees it is not its own, reports it
// (almanac_nats_forged_total), deletes it and publishes the change under a
// fresh Nats-Msg-Id: every change is in the stream, no forgery is. One
// forged ID is met by a synchronous first publish of a session, one by an
// asynchronous publish in the window.
func TestPublisherForgedDuplicate(t *testing.T) {
	dir := t.TempDir()
	// A log from before names were bounded: the engine is opened with
	// limits that let the long name in, as such a log was written.
	db := mustOpenDBAt(t, "db", &engine.Options{FS: vfs.NewMem(), Limits: engine.Limits{MaxNameLength: 8192, MaxPathLength: 8192}})
	ns := MustNATS(t, filepath.Join(dir, "nats"), "")
	nc := MustConnect(t, ns)
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg, db)
	if err != nil {
		t.Fatal(err)
	}
	p, stop := runPublisher(t, PublisherOptions{DB: db, Conn: nc, IncludeBody: true, Metrics: metrics, RetryWait: time.Hour})
	MustPut(t, db, "alice", "first.ics")
	waitFor(t, 30*time.Second, "the first publish", func() bool { return p.Cursor() == db.Head() })
	stop()

	js, err := jetstream.New(mustOperator(t, ns))
	if err != nil {
		t.Fatal(err)
	}
	next := db.Head() + 1
	for _, seq := range []engine.Seq{next, next + 2} {
		m := &nats.Msg{Subject: "almanac.alice.calendar.calendar.put", Data: []byte("forged"), Header: nats.Header{}}
		m.Header.Set(jetstream.MsgIDHeader, strconv.FormatUint(uint64(seq), 10))
		if _, err := js.PublishMsg(deadline(t, 10*time.Second), m); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		MustPut(t, db, "alice", fmt.Sprintf("after%d.ics", i))
	}
	p, _ = runPublisher(t, PublisherOptions{DB: db, Conn: nc, IncludeBody: true, Metrics: metrics, RetryWait: time.Hour})
	waitFor(t, 30*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
	var got []*feedv1.Change
	for _, m := range streamMsgs(t, nc, "ALMANAC") {
		if string(m.Data) == "forged" {
			t.Errorf("forged message %d (Nats-Msg-Id %s) still in the stream", m.Sequence, m.Header.Get(jetstream.MsgIDHeader))
			continue
		}
		got = append(got, decodeMsg(t, m, decodeProto))
	}
	if diff := cmp.Diff(expected(t, db, allChanges), seqs(got)); diff != "" {
		t.Errorf("stream differs from the log (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(metrics.forged); n != 2 {
		t.Errorf("almanac_nats_forged_total = %v, want 2", n)
	}
	if err := p.Err(); err != nil {
		t.Errorf("publisher error: %v", err)
	}
}

// TestPublisherUnpublishable: a collection whose name makes a subject
// longer than nats-server's control line allows (the log may hold one from
// before names were bounded) can never be published. Its events become dead
// letters on almanac._dead (under their seq's Nats-Msg-Id, reason given),
// are counted in almanac_nats_skipped_total, and the changes after them are
// published: the stream does not stall.
func TestPublisherUnpublishable(t *testing.T) {
	dir := t.TempDir()
	// A log from before names were bounded: the engine is opened with
	// limits that let the long name in, as such a log was written.
	db := mustOpenDBAt(t, "db", &engine.Options{FS: vfs.NewMem(), Limits: engine.Limits{MaxNameLength: 8192, MaxPathLength: 8192}})
	ns := MustNATS(t, filepath.Join(dir, "nats"), "")
	nc := MustConnect(t, ns)
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg, db)
	if err != nil {
		t.Fatal(err)
	}
	long := home("alice") + strings.Repeat("n", 5000) + "/"
	m := engine.Meta{Actor: "alice"}
	if _, err := db.CreateCollection(bg, m, engine.CollectionSpec{Path: long, Kind: engine.KindCalendar, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	var dead []uint64
	dead = append(dead, uint64(db.Head()))
	r, err := db.PutObject(bg, m, long, "x.ics", ical("x", 0), engine.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dead = append(dead, uint64(r.Seq))
	for i := range 20 {
		MustPut(t, db, "alice", fmt.Sprintf("after%d.ics", i))
	}
	p, _ := runPublisher(t, PublisherOptions{DB: db, Conn: nc, IncludeBody: true, Metrics: metrics, RetryWait: time.Hour})
	waitFor(t, 30*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
	var all, gotDead []uint64
	for _, msg := range streamMsgs(t, nc, "ALMANAC") {
		if msg.Subject != DeadLetterSubject {
			all = append(all, decodeMsg(t, msg, decodeProto).Seq)
			continue
		}
		var dl DeadLetter
		if err := json.Unmarshal(msg.Data, &dl); err != nil {
			t.Fatal(err)
		}
		if id := msg.Header.Get(jetstream.MsgIDHeader); id != strconv.FormatUint(dl.Seq, 10) || !strings.Contains(dl.Reason, "subject of") {
			t.Errorf("dead letter %s: %+v", id, dl)
		}
		all = append(all, dl.Seq)
		gotDead = append(gotDead, dl.Seq)
	}
	if diff := cmp.Diff(dead, gotDead); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(expected(t, db, allChanges), all); diff != "" {
		t.Errorf("stream differs from the log (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(metrics.skipped); n != 2 {
		t.Errorf("almanac_nats_skipped_total = %v, want 2", n)
	}
}

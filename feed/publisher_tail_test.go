package feed

import (
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/almanac/almanac/internal/testport"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
)

// testWindow is the shortest duplicate window nats-server accepts: a test
// waits it out to show that the publisher does not rely on it.
const testWindow = 100 * time.Millisecond

// pastWindow waits until the broker has forgotten the message IDs stored
// before: its purge timer runs at least every window.
func pastWindow() { time.Sleep(5 * testWindow) }

// TestPublisherResumesAfterStreamTail: the publisher crashes mid-stream
// after its last cursor saves were lost (the stored cursor is rewound to
// 0 while the stream holds 100 or more changes), NATS restarts, and the
// duplicate window has long passed. The next publisher finds the last
// change the stream stores and continues after it: every change once, in
// order, and the stored cursor catches up. Without resume it re-sends the
// stored changes, which the broker no longer recognizes.
func TestPublisherResumesAfterStreamTail(t *testing.T) {
	dir := t.TempDir()
	db := MustOpenDB(t)
	// NATS starts again on its port below: held for the test, so that
	// no other process takes it while NATS is down (a port-0 one could
	// go to any bind to port 0 or outgoing connection meanwhile).
	ns := MustNATS(t, filepath.Join(dir, "nats"), testport.Addrs(t, 1)[0])
	addr := ns.Addr().(*net.TCPAddr)
	for i := range 300 {
		MustPut(t, db, "alice", fmt.Sprintf("a%d.ics", i))
	}
	nc := MustConnect(t, ns)
	stream := StreamConfig{Duplicates: testWindow}
	p, stop := runPublisher(t, PublisherOptions{DB: db, Conn: nc, MaxInFlight: 8, Stream: stream})
	waitFor(t, 30*time.Second, "publishing to start", func() bool { return p.Cursor() >= 100 })
	stop()
	nc.Close()
	stored := lastStored(t, MustConnect(t, ns))
	if err := db.SetCursor("nats:ALMANAC", 0); err != nil {
		t.Fatal(err)
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	ns = MustNATS(t, filepath.Join(dir, "nats"), addr.String())
	pastWindow()
	for i := range 100 {
		MustPut(t, db, "bob", fmt.Sprintf("b%d.ics", i))
	}
	nc = MustConnect(t, ns)
	p, _ = runPublisher(t, PublisherOptions{DB: db, Conn: nc, Stream: stream})
	waitFor(t, 30*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
	got := streamChanges(t, nc, "ALMANAC", decodeProto)
	if diff := cmp.Diff(expected(t, db, allChanges), seqs(got)); diff != "" {
		t.Errorf("stream differs from the log (-want +got):\n%s", diff)
	}
	if stored < 100 {
		t.Errorf("the stream held changes up to %d at the crash; want at least 100 ahead of the rewound cursor", stored)
	}
	waitSaved(t, db, "nats:ALMANAC", db.Head())
}

// TestPublisherTailGone: the stream's last message is deleted (here by an
// operator), so the publisher cannot tell its last stored change; it
// publishes after its stored cursor as before, without a duplicate and
// without stalling. An emptied stream (purged) holds nothing to repeat and
// the publisher continues after the cursor with the expected sequence.
func TestPublisherTailGone(t *testing.T) {
	db := MustOpenDB(t)
	ns := MustNATS(t, filepath.Join(t.TempDir(), "nats"), "")
	nc := MustConnect(t, ns)
	opts := PublisherOptions{DB: db, Conn: nc, Stream: StreamConfig{Duplicates: testWindow}, RetryWait: time.Hour}
	for i := range 20 {
		MustPut(t, db, "alice", fmt.Sprintf("a%d.ics", i))
	}
	p, stop := runPublisher(t, opts)
	waitFor(t, 30*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
	stop()
	js, err := jetstream.New(mustOperator(t, ns))
	if err != nil {
		t.Fatal(err)
	}
	ctx := deadline(t, time.Minute)
	st, err := js.Stream(ctx, "ALMANAC")
	if err != nil {
		t.Fatal(err)
	}
	deleted := lastStored(t, nc)
	if err := st.DeleteMsg(ctx, st.CachedInfo().State.LastSeq); err != nil {
		t.Fatal(err)
	}
	pastWindow()
	for i := range 20 {
		MustPut(t, db, "bob", fmt.Sprintf("b%d.ics", i))
	}
	p, stop = runPublisher(t, opts)
	waitFor(t, 30*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
	stop()
	var want []uint64
	for _, s := range expected(t, db, allChanges) {
		if s != uint64(deleted) {
			want = append(want, s)
		}
	}
	if diff := cmp.Diff(want, seqs(streamChanges(t, nc, "ALMANAC", decodeProto))); diff != "" {
		t.Errorf("stream differs from the log (-want +got):\n%s", diff)
	}

	if err := st.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	purgedAt := db.Head()
	for i := range 20 {
		MustPut(t, db, "bob", fmt.Sprintf("c%d.ics", i))
	}
	p, _ = runPublisher(t, opts)
	waitFor(t, 30*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
	want = nil
	for _, s := range expected(t, db, allChanges) {
		if s > uint64(purgedAt) {
			want = append(want, s)
		}
	}
	if diff := cmp.Diff(want, seqs(streamChanges(t, nc, "ALMANAC", decodeProto))); diff != "" {
		t.Errorf("after the purge, stream differs from the log (-want +got):\n%s", diff)
	}
	if err := p.Err(); err != nil {
		t.Errorf("publisher error: %v", err)
	}
}

// TestPublisherDuplicateWindow: a stream the publisher creates gets
// DefaultDuplicates (limits) or DefaultDuplicatesConsumed (interest), never
// more than MaxAge; a limits stream an earlier version created with the
// 10-minute window is updated by the embedded server's publisher user;
// a window an operator chose otherwise is left alone.
func TestPublisherDuplicateWindow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing *jetstream.StreamConfig // created by the operator first
		stream   StreamConfig
		want     time.Duration
	}{
		{name: "new limits", want: DefaultDuplicates},
		{name: "new interest", stream: StreamConfig{Retention: "interest"}, want: DefaultDuplicatesConsumed},
		{name: "new max age", stream: StreamConfig{MaxAge: 500 * time.Millisecond, Retention: "interest"}, want: 500 * time.Millisecond},
		{name: "old default", existing: &jetstream.StreamConfig{Duplicates: 10 * time.Minute}, want: DefaultDuplicates},
		{name: "operator's window", existing: &jetstream.StreamConfig{Duplicates: 5 * time.Minute}, want: 5 * time.Minute},
		{name: "old interest", existing: &jetstream.StreamConfig{Duplicates: 10 * time.Minute, Retention: jetstream.InterestPolicy},
			want: 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := MustOpenDB(t)
			ns := MustNATS(t, filepath.Join(t.TempDir(), "nats"), "")
			js, err := jetstream.New(mustOperator(t, ns))
			if err != nil {
				t.Fatal(err)
			}
			ctx := deadline(t, time.Minute)
			if tc.existing != nil {
				cfg := *tc.existing
				cfg.Name, cfg.Subjects = "ALMANAC", []string{SubjectPrefix + ".>"}
				if _, err := js.CreateStream(ctx, cfg); err != nil {
					t.Fatal(err)
				}
			}
			MustPut(t, db, "alice", "first.ics")
			p, _ := runPublisher(t, PublisherOptions{DB: db, Conn: MustConnect(t, ns), Stream: tc.stream})
			waitFor(t, 30*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
			st, err := js.Stream(ctx, "ALMANAC")
			if err != nil {
				t.Fatal(err)
			}
			if got := st.CachedInfo().Config.Duplicates; got != tc.want {
				t.Errorf("duplicate window %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkPublisherCatchUpHeap measures the Go heap (this process runs
// the embedded NATS server too) a publisher leaves right after catching up
// with a backlog of 100,000 changes of ~1 KB, with the stream's duplicate
// window of earlier versions (10 minutes: the server still holds every
// change's Nats-Msg-Id) and with DefaultDuplicates. It reports the live
// heap after a GC minus the one before the publisher started, in all and
// per change: the difference between the windows is the duplicate map.
// A catch-up takes tens of seconds under load; run it with -benchtime 1x.
func BenchmarkPublisherCatchUpHeap(b *testing.B) {
	const n = 100000
	for _, window := range []time.Duration{10 * time.Minute, 0} {
		name := "window=" + window.String()
		if window == 0 {
			name = "window=default"
		}
		b.Run(name, func(b *testing.B) {
			var grew uint64
			for b.Loop() {
				b.StopTimer()
				db := mustOpenDiskDB(b) // on disk: an in-memory store's files are heap
				fill(b, db, n, nil)
				ns := MustNATS(b, filepath.Join(b.TempDir(), "nats"), "")
				nc := MustConnect(b, ns)
				before := liveHeap()
				b.StartTimer()
				p, stop := runPublisher(b, PublisherOptions{DB: db, Conn: nc, IncludeBody: true,
					Stream: StreamConfig{Duplicates: window, MaxBytes: 32 << 20}})
				for p.Cursor() != db.Head() {
					time.Sleep(10 * time.Millisecond)
				}
				b.StopTimer()
				grew += liveHeap() - min(before, liveHeap())
				stop()
				b.StartTimer()
			}
			b.ReportMetric(float64(grew)/float64(b.N)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(grew)/float64(b.N)/n, "heap-B/change")
		})
	}
}

// liveHeap returns the bytes of live heap objects after two full GCs (the
// second frees what sync.Pools kept through the first: nats-server's
// block buffers).
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

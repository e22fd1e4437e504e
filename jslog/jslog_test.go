package jslog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/natstest"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var ctx = context.Background()

// startCluster starts n nats-servers with JetStream and fsync on every
// write, clustered over routes on loopback (n = 1: a lone server), and
// waits until JetStream has a meta leader.
func startCluster(t testing.TB, n int) []*server.Server {
	t.Helper()
	return natstest.Cluster(t, n, func(_ int, o *server.Options) { o.SyncAlways = true })
}

// mustLog connects to s and opens the log, retrying while the cluster
// settles (a new cluster may not place an R3 stream at once).
func mustLog(t testing.TB, s *server.Server, replicas int) *Log {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		l, err := Open(c, nc, &Options{Replicas: replicas})
		cancel()
		if err == nil {
			t.Cleanup(func() { l.Close() })
			return l
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAppend: appends land at the sequence numbers they were meant for, a
// stale expectation is a *engine.LogConflictError naming the head and
// stores nothing, a batch is stored all together, and Read returns what
// was stored, from any point.
func TestAppend(t *testing.T) {
	l := mustLog(t, startCluster(t, 1)[0], 1)
	if err := l.Append(ctx, 0, [][]byte{[]byte("one")}); err != nil {
		t.Fatal(err)
	}
	var conflict *engine.LogConflictError
	if err := l.Append(ctx, 0, [][]byte{[]byte("again")}); !errors.As(err, &conflict) || conflict.Head != 1 {
		t.Fatalf("append after 0 with 1 stored: %v, want a conflict at head 1", err)
	}
	if err := l.Append(ctx, 1, [][]byte{[]byte("two"), []byte("three"), []byte("four")}); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ctx, 2, [][]byte{[]byte("x"), []byte("y")}); !errors.As(err, &conflict) {
		t.Fatalf("batch after 2 with 4 stored: %v, want a conflict", err)
	}
	if head, err := l.Head(ctx); err != nil || head != 4 {
		t.Fatalf("head %d, %v, want 4", head, err)
	}
	got, err := l.Read(ctx, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]byte{[]byte("two"), []byte("three"), []byte("four")}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read from 2: %q, want %q", got, want)
	}
	if got, err := l.Read(ctx, 1, 2); err != nil || len(got) != 2 || string(got[0]) != "one" {
		t.Fatalf("read 2 from 1: %q, %v", got, err)
	}
	// A reader past the head waits for the next append.
	done := make(chan [][]byte)
	go func() {
		recs, err := l.Read(ctx, 5, 10)
		if err != nil {
			t.Error(err)
		}
		done <- recs
	}()
	if err := l.Append(ctx, 4, [][]byte{[]byte("five")}); err != nil {
		t.Fatal(err)
	}
	if recs := <-done; len(recs) != 1 || string(recs[0]) != "five" {
		t.Fatalf("waiting read: %q", recs)
	}
	c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := l.Read(c, 6, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read past the head: %v, want the context's deadline", err)
	}
}

// TestReadAsksAgain: a direct get whose request is lost (the replica that
// took it was killed) is asked again, instead of leaving the reader
// waiting forever: TestClusterKill9 found a node whose follower waited so,
// never to see another write.
func TestReadAsksAgain(t *testing.T) {
	s := startCluster(t, 1)[0]
	l := mustLog(t, s, 1)
	if err := l.Append(ctx, 0, [][]byte{[]byte("one"), []byte("two")}); err != nil {
		t.Fatal(err)
	}
	// A responder in front of the stream's that drops the first request
	// and passes the others on.
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var asked int
	direct := l.getSubject
	sub, err := nc.Subscribe("test.lossy", func(m *nats.Msg) {
		if asked++; asked > 1 {
			nc.PublishRequest(direct, m.Reply, m.Data)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	l.getSubject = "test.lossy"
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got, err := l.Read(c, 1, 10)
	if err != nil || fmt.Sprint(got) != fmt.Sprint([][]byte{[]byte("one"), []byte("two")}) {
		t.Fatalf("read with the first request lost: %q, %v", got, err)
	}
}

// TestIdentity: the first identity proposed is everyone's.
func TestIdentity(t *testing.T) {
	s := startCluster(t, 1)[0]
	a, b := mustLog(t, s, 1), mustLog(t, s, 1)
	if id, err := a.Identity(ctx, []byte("first")); err != nil || string(id) != "first" {
		t.Fatalf("%q, %v", id, err)
	}
	if id, err := b.Identity(ctx, []byte("second")); err != nil || string(id) != "first" {
		t.Fatalf("%q, %v, want the first", id, err)
	}
}

// TestIdentityUnanswered: while the bucket's stream does not answer (no
// leader yet: "no responders", "no response from stream"), Identity asks
// again instead of failing a node's start; a Create whose answer was lost
// after it was stored gives back its own identity; other errors are
// returned at once.
func TestIdentityUnanswered(t *testing.T) {
	s := startCluster(t, 1)[0]
	a, b := mustLog(t, s, 1), mustLog(t, s, 1)
	fa := &unansweredKV{KeyValue: a.kv, errs: []error{nats.ErrNoResponders, jetstream.ErrNoStreamResponse}, lost: true}
	a.kv = fa
	if id, err := a.Identity(ctx, []byte("first")); err != nil || string(id) != "first" {
		t.Fatalf("after two unanswered requests and a lost answer: %q, %v", id, err)
	}
	b.kv = &unansweredKV{KeyValue: b.kv, errs: []error{jetstream.ErrNoStreamResponse, nats.ErrNoResponders}}
	if id, err := b.Identity(ctx, []byte("second")); err != nil || string(id) != "first" {
		t.Fatalf("after two unanswered requests: %q, %v, want the first", id, err)
	}
	broken := errors.New("broken")
	b.kv = &unansweredKV{KeyValue: b.kv, errs: []error{broken}}
	if _, err := b.Identity(ctx, []byte("second")); !errors.Is(err, broken) {
		t.Fatalf("a request that failed: %v, want its error", err)
	}
}

// unansweredKV answers its first requests with errs, one each; with
// lost, the first Create after them is stored but answered with
// ErrNoStreamResponse, as a reply lost on the way.
type unansweredKV struct {
	jetstream.KeyValue
	errs []error
	lost bool
}

func (k *unansweredKV) next() error {
	if len(k.errs) == 0 {
		return nil
	}
	err := k.errs[0]
	k.errs = k.errs[1:]
	return err
}

func (k *unansweredKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	if err := k.next(); err != nil {
		return 0, err
	}
	rev, err := k.KeyValue.Create(ctx, key, value, opts...)
	if err == nil && k.lost {
		k.lost = false
		return 0, jetstream.ErrNoStreamResponse
	}
	return rev, err
}

func (k *unansweredKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	if err := k.next(); err != nil {
		return nil, err
	}
	return k.KeyValue.Get(ctx, key)
}

var alice = engine.Meta{Actor: "alice", UserAgent: "test/1.0"}

func event(uid string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
}

// mustNode opens an engine on its own in-memory filesystem, appending to
// and following log.
func mustNode(t *testing.T, log engine.SharedLog) *engine.DB {
	t.Helper()
	db, err := engine.Open("db", &engine.Options{FS: vfs.NewMem(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// waitApplied waits until db has applied the log up to head.
func waitApplied(t *testing.T, db *engine.DB, head engine.Seq) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for db.Head() < head {
		if _, err := db.Wait(c, db.Head()); err != nil {
			t.Fatalf("waiting for %d, at %d: %v", head, db.Head(), err)
		}
	}
}

// race runs put on both nodes at once and returns their errors.
func race(nodes []*engine.DB, put func(i int, db *engine.DB) error) []error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, db := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = put(i, db)
		}()
	}
	wg.Wait()
	return errs
}

// TestClusterRaces: three nats-servers clustered on loopback, an R3
// stream, two engines on two of them. Racing If-Match on one object,
// exactly one wins each round; putting one UID under two names at once,
// exactly one succeeds. Afterwards both engines hold the same log and
// projections, byte for byte (the same digest), and each verifies.
func TestClusterRaces(t *testing.T) {
	servers := startCluster(t, 3)
	nodes := []*engine.DB{mustNode(t, mustLog(t, servers[0], 3)), mustNode(t, mustLog(t, servers[1], 3))}
	a := nodes[0]
	if nodes[0].StoreID() != nodes[1].StoreID() {
		t.Fatalf("store ids %s and %s", nodes[0].StoreID(), nodes[1].StoreID())
	}
	if _, err := a.CreateCollection(ctx, alice, engine.CollectionSpec{Path: "/alice/", Kind: engine.KindHome, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	c, err := a.CreateCollection(ctx, alice, engine.CollectionSpec{Path: "/alice/cal/", Kind: engine.KindCalendar, Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.PutObject(ctx, alice, c.Path, "x.ics", event("x"), engine.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	etag := res.ETag
	const rounds = 10
	for round := range rounds {
		waitApplied(t, nodes[1], a.Head())
		etags := make([]string, 2)
		errs := race(nodes, func(i int, db *engine.DB) error {
			r, err := db.PutObject(ctx, alice, c.Path, "x.ics", event("x"), engine.PutOptions{IfMatch: etag})
			if err == nil {
				etags[i] = r.ETag
			}
			return err
		})
		won := 0
		for i, err := range errs {
			var mismatch *engine.ETagMismatchError
			switch {
			case err == nil:
				won++
				etag = etags[i]
			case !errors.As(err, &mismatch):
				t.Fatalf("If-Match round %d: node %d: %v", round, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("If-Match round %d: %d winners, want exactly 1", round, won)
		}
	}
	for round := range rounds {
		waitApplied(t, nodes[1], a.Head())
		waitApplied(t, nodes[0], nodes[1].Head())
		uid := fmt.Sprint("uid-", round)
		errs := race(nodes, func(i int, db *engine.DB) error {
			_, err := db.PutObject(ctx, alice, c.Path, fmt.Sprintf("%s-%d.ics", uid, i), event(uid), engine.PutOptions{})
			return err
		})
		won := 0
		for i, err := range errs {
			var conflict *engine.UIDConflictError
			switch {
			case err == nil:
				won++
			case !errors.As(err, &conflict):
				t.Fatalf("UID round %d: node %d: %v", round, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("UID round %d: %d puts of one UID succeeded, want exactly 1", round, won)
		}
	}
	head := max(nodes[0].Head(), nodes[1].Head())
	var digests [][]byte
	for i, db := range nodes {
		waitApplied(t, db, head)
		h, d, err := db.Digest(ctx)
		if err != nil || h != head {
			t.Fatalf("node %d: digest at %d, %v", i, h, err)
		}
		digests = append(digests, d)
		if err := db.Verify(ctx); err != nil {
			t.Errorf("node %d: %v", i, err)
		}
		o, err := db.Object(c.Path, "x.ics", false)
		if err != nil || o.ETag != etag {
			t.Errorf("node %d: x.ics %v, %v, want ETag %s", i, o, err, etag)
		}
	}
	if !bytes.Equal(digests[0], digests[1]) {
		t.Error("the nodes' logs and projections differ")
	}
}

// TestHeadWithoutQuorum: on a server cut off from the others of an R3
// stream, Head fails (it says the stream has no leader) instead of
// answering the last head the server knew: a node's probe reports it
// cannot reach the log.
func TestHeadWithoutQuorum(t *testing.T) {
	servers := startCluster(t, 3)
	l := mustLog(t, servers[0], 3)
	if err := l.Append(ctx, 0, [][]byte{[]byte("one")}); err != nil {
		t.Fatal(err)
	}
	if head, err := l.Head(ctx); err != nil || head != 1 {
		t.Fatalf("head with a quorum: %d, %v", head, err)
	}
	servers[1].Shutdown()
	servers[2].Shutdown()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		head, err := l.Head(c)
		if err != nil {
			t.Logf("head without a quorum: %v", err)
			return
		}
		if c.Err() != nil {
			t.Fatalf("head without a quorum: %d, nil error", head)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestHeadOneRequest: Head asks the stream's leader once (STREAM.INFO),
// not twice: every clustered write asks the head before its checks. It
// asked twice before (js.Stream, then Info).
func TestHeadOneRequest(t *testing.T) {
	s := startCluster(t, 1)[0]
	l := mustLog(t, s, 1)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// A copy of every stream info request: the server delivers each to
	// this subscription as well as to its API's.
	asks, err := nc.SubscribeSync("$JS.API.STREAM.INFO.>")
	if err != nil {
		t.Fatal(err)
	}
	marks, err := nc.SubscribeSync("jslog-test.mark")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	const heads = 3
	for range heads {
		if _, err := l.Head(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The API may answer a request before the server has delivered its
	// copy to asks (CI saw 2 of 3 after a flush of nc). The server routes
	// one connection's messages in order, and nc reads its own in order:
	// once a mark that l's connection publishes after its requests has
	// reached nc, every copy of them has too.
	if err := l.nc.Publish("jslog-test.mark", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := marks.NextMsg(30 * time.Second); err != nil {
		t.Fatalf("the mark published after the heads: %v", err)
	}
	if n, _, err := asks.Pending(); err != nil || n != heads {
		t.Fatalf("%d heads sent %d stream info requests (%v), want %d", heads, n, err, heads)
	}
}

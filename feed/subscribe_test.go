package feed

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/change"
	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// writeMix writes n puts per user for alice and bob concurrently, plus a
// contact, a delete, a move and a user change each, and returns when all
// are durable.
func writeMix(t *testing.T, db *engine.DB, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, u := range []string{"alice", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := engine.Meta{Actor: u, UserAgent: "feed-test", RequestID: "mix"}
			cal := home(u) + "calendar/"
			for i := range n {
				name := fmt.Sprintf("%s-%d.ics", u, i)
				if _, err := db.PutObject(bg, m, cal, name, ical(name, 0), engine.PutOptions{}); err != nil {
					errs <- err
					return
				}
			}
			steps := []func() error{
				func() error {
					_, err := db.PutObject(bg, m, home(u)+"contacts/", u+".vcf", vcardBody(u), engine.PutOptions{})
					return err
				},
				func() error { return db.DeleteObject(bg, m, cal, u+"-0.ics", "") },
				func() error {
					_, err := db.CreateCollection(bg, m, engine.CollectionSpec{Path: home(u) + "work/", Kind: engine.KindCalendar, Owner: u})
					return err
				},
				func() error {
					_, err := db.MoveObject(bg, m, engine.MoveRequest{FromPath: cal, FromName: u + "-1.ics", ToPath: home(u) + "work/", ToName: "moved.ics"})
					return err
				},
				func() error { return db.PutUser(bg, m, engine.User{Name: u, PasswordHash: "y"}) },
			}
			for _, step := range steps {
				if err := step(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestSubscribeEqualsLog(t *testing.T) {
	db := MustOpenDB(t)
	ts := MustServe(t, db, Options{})
	admin := ts.client(t, basic("admin", "secret"))
	alice := ts.client(t, basic("alice", "secret"))

	cases := []struct {
		name   string
		client feedv1.ChangeFeedServiceClient
		req    *feedv1.SubscribeRequest
		keep   func(ev *engine.Event, owner string) bool
	}{
		{"AdminAll", admin, &feedv1.SubscribeRequest{}, func(*engine.Event, string) bool { return true }},
		{"AliceAll", alice, &feedv1.SubscribeRequest{}, func(_ *engine.Event, o string) bool { return o == "alice" }},
		{"AdminContacts", admin, &feedv1.SubscribeRequest{Kinds: []feedv1.Kind{feedv1.Kind_KIND_CONTACTS}},
			func(ev *engine.Event, _ string) bool { return strings.HasSuffix(ev.CollectionPath, "/contacts/") }},
		{"AdminBobPrefix", admin, &feedv1.SubscribeRequest{CollectionPrefix: "/dav/home/bob/"},
			func(_ *engine.Event, o string) bool { return o == "bob" }},
		{"AliceFrom", alice, &feedv1.SubscribeRequest{FromSeq: 30, Principal: "alice"},
			func(ev *engine.Event, o string) bool { return o == "alice" && ev.Seq >= 30 }},
	}
	streams := make([]grpc.ServerStreamingClient[feedv1.SubscribeResponse], len(cases))
	ctx := deadline(t, time.Minute)
	for i, c := range cases {
		s, err := c.client.Subscribe(ctx, c.req)
		if err != nil {
			t.Fatal(err)
		}
		streams[i] = s
	}
	writeMix(t, db, 300) // while the subscribers replay and go live

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := expected(t, db, c.keep)
			got := seqs(collect(t, streams[i], want[len(want)-1]))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stream differs from the log (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSubscribeChangeFields(t *testing.T) {
	db := MustOpenDB(t)
	ts := MustServe(t, db, Options{})
	r := MustPut(t, db, "alice", "a.ics")
	m := engine.Meta{Actor: "alice", UserAgent: "ua/1", RequestID: "req-9"}
	if _, err := db.MoveObject(bg, m, engine.MoveRequest{FromPath: home("alice") + "calendar/", FromName: "a.ics", ToPath: home("bob") + "calendar/", ToName: "b.ics"}); err != nil {
		t.Fatal(err)
	}
	s, err := ts.client(t, basic("bob", "secret")).Subscribe(deadline(t, time.Minute), &feedv1.SubscribeRequest{IncludeBody: true})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, s, uint64(db.Head()))
	var mv *feedv1.Change
	for _, c := range got {
		if c.Op == feedv1.Op_OP_OBJECT_MOVED {
			mv = c
		}
		if c.Principal != "bob" && c.ToPrincipal != "bob" {
			t.Errorf("bob received %s change %d of %q", c.Op, c.Seq, c.Principal)
		}
	}
	if mv == nil {
		t.Fatalf("bob did not receive the move into his calendar: %v", seqs(got))
	}
	want := &feedv1.Change{
		Seq: mv.Seq, Time: mv.Time, Actor: "alice", UserAgent: "ua/1", RequestId: "req-9", Op: feedv1.Op_OP_OBJECT_MOVED,
		Principal: "alice", Kind: feedv1.Kind_KIND_CALENDAR, Collection: home("alice") + "calendar/", Object: "a.ics",
		Uid: "a.ics", Etag: mv.Etag, PreviousEtag: r.ETag, ContentType: engine.ContentTypeCalendar, Body: ical("a.ics", 0),
		SyncToken: mv.SyncToken, ToCollection: home("bob") + "calendar/", ToObject: "b.ics", ToSyncToken: mv.ToSyncToken, ToPrincipal: "bob",
	}
	if diff := cmp.Diff(want, mv, cmpProto); diff != "" {
		t.Errorf("move change (-want +got):\n%s", diff)
	}
	bobCal, err := db.Collection(home("bob") + "calendar/")
	if err != nil {
		t.Fatal(err)
	}
	if mv.ToSyncToken != bobCal.SyncToken {
		t.Errorf("to_sync_token = %q, want the destination's token %q", mv.ToSyncToken, bobCal.SyncToken)
	}
	if obj, _ := db.Object(home("bob")+"calendar/", "b.ics", false); obj == nil || obj.ETag != mv.Etag {
		t.Errorf("etag = %q, want the destination's %+v", mv.Etag, obj)
	}
}

func TestSubscribeResume(t *testing.T) {
	db := MustOpenDB(t)
	ts := MustServe(t, db, Options{})
	alice := ts.client(t, basic("alice", "secret"))
	for i := range 50 {
		MustPut(t, db, "alice", fmt.Sprintf("a%d.ics", i))
	}
	want := expected(t, db, func(_ *engine.Event, o string) bool { return o == "alice" })
	ctx := deadline(t, time.Minute)
	var got []uint64
	from := uint64(0)
	for part := 0; len(got) < len(want); part++ {
		sctx, cancel := context.WithCancel(ctx)
		s, err := alice.Subscribe(sctx, &feedv1.SubscribeRequest{FromSeq: from})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		// Take at most 7 changes of this batch, then drop the stream.
		n := min(len(resp.Changes), 7)
		for _, c := range resp.Changes[:n] {
			got = append(got, c.Seq)
		}
		from = got[len(got)-1] + 1
		cancel()
		if part > len(want) {
			t.Fatal("no progress")
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resumed stream differs from the log (-want +got):\n%s", diff)
	}
}

func TestSubscribeAuth(t *testing.T) {
	db := MustOpenDB(t)
	ts := MustServe(t, db, Options{})
	t.Run("ErrBadPassword", func(t *testing.T) {
		_, err := ts.client(t, basic("alice", "wrong")).Head(bg, &feedv1.HeadRequest{})
		if got := status.Code(err); got != codes.Unauthenticated {
			t.Errorf("code = %v (%v), want Unauthenticated", got, err)
		}
	})
	t.Run("ErrNoCredentials", func(t *testing.T) {
		s, err := ts.client(t, basicCreds{""}).Subscribe(bg, &feedv1.SubscribeRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		if got := status.Code(err); got != codes.Unauthenticated {
			t.Errorf("code = %v (%v), want Unauthenticated", got, err)
		}
	})
	t.Run("ErrOtherPrincipal", func(t *testing.T) {
		s, err := ts.client(t, basic("alice", "secret")).Subscribe(bg, &feedv1.SubscribeRequest{Principal: "bob"})
		if err == nil {
			_, err = s.Recv()
		}
		if got := status.Code(err); got != codes.PermissionDenied {
			t.Errorf("code = %v (%v), want PermissionDenied", got, err)
		}
	})
	t.Run("Token", func(t *testing.T) {
		tok, plain, err := NewToken("ci", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		u, _ := db.User("bob")
		u.Tokens = append(u.Tokens, tok)
		if err := db.PutUser(bg, engine.Meta{Actor: "bob"}, *u); err != nil {
			t.Fatal(err)
		}
		c := ts.client(t, basicCreds{"Bearer " + plain})
		if _, err := c.Head(bg, &feedv1.HeadRequest{}); err != nil {
			t.Fatalf("head with token: %v", err)
		}
		id, _, _ := splitToken(plain)
		if _, err := ts.client(t, basicCreds{"Bearer " + id + ".wrong"}).Head(bg, &feedv1.HeadRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("wrong secret: %v, want Unauthenticated", err)
		}
		u.Disabled = true
		if err := db.PutUser(bg, engine.Meta{Actor: "bob"}, *u); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Head(bg, &feedv1.HeadRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("token of a disabled account: %v, want Unauthenticated", err)
		}
		u.Disabled, u.Tokens = false, nil
		if err := db.PutUser(bg, engine.Meta{Actor: "bob"}, *u); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Head(bg, &feedv1.HeadRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("revoked token: %v, want Unauthenticated", err)
		}
	})
	t.Run("GetEventOfOtherUser", func(t *testing.T) {
		r := MustPut(t, db, "bob", "secret-meeting.ics")
		alice := ts.client(t, basic("alice", "secret"))
		_, err := alice.GetEvent(bg, &feedv1.GetEventRequest{Seq: uint64(r.Seq), IncludeBody: true})
		if status.Code(err) != codes.NotFound {
			t.Errorf("alice reading bob's event: %v, want NotFound", err)
		}
		// A seq that does not exist answers the same (seq aside).
		missing := uint64(db.Head()) + 1000
		_, errMissing := alice.GetEvent(bg, &feedv1.GetEventRequest{Seq: missing, IncludeBody: true})
		got := strings.Replace(status.Convert(err).Message(), fmt.Sprint(r.Seq), "N", 1)
		want := strings.Replace(status.Convert(errMissing).Message(), fmt.Sprint(missing), "N", 1)
		if status.Code(errMissing) != codes.NotFound || got != want {
			t.Errorf("not yours: %v; does not exist: %v: want the same answer", err, errMissing)
		}
		adm, err := ts.client(t, basic("admin", "secret")).GetEvent(bg, &feedv1.GetEventRequest{Seq: uint64(r.Seq)})
		if err != nil || adm.Change.Object != "secret-meeting.ics" {
			t.Errorf("admin reading bob's event: %v %v", adm, err)
		}
	})
	t.Run("AccountEventsHidden", func(t *testing.T) {
		_, err := ts.client(t, basic("admin", "secret")).GetEvent(bg, &feedv1.GetEventRequest{Seq: 1}) // PutUser alice
		if status.Code(err) != codes.NotFound {
			t.Errorf("account event: %v, want NotFound", err)
		}
	})
}

func TestHistory(t *testing.T) {
	db := MustOpenDB(t)
	ts := MustServe(t, db, Options{})
	var puts []uint64
	for range 5 {
		puts = append(puts, uint64(MustPut(t, db, "alice", "x.ics").Seq))
	}
	MustPut(t, db, "alice", "y.ics")
	alice := ts.client(t, basic("alice", "secret"))
	resp, err := alice.History(bg, &feedv1.HistoryRequest{Path: home("alice") + "calendar/x.ics", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{puts[4], puts[3], puts[2]}, seqs(resp.Changes)); diff != "" {
		t.Errorf("first page (-want +got):\n%s", diff)
	}
	resp, err = alice.History(bg, &feedv1.HistoryRequest{Path: home("alice") + "calendar/x.ics", BeforeSeq: resp.NextBeforeSeq})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{puts[1], puts[0]}, seqs(resp.Changes)); diff != "" || resp.NextBeforeSeq != 0 {
		t.Errorf("second page (-want +got):\n%s next=%d", diff, resp.NextBeforeSeq)
	}
	// Another user's collection or object answers exactly as a path that
	// never existed, before any history is read.
	bob := ts.client(t, basic("bob", "secret"))
	for _, tc := range []struct{ theirs, none string }{
		{home("alice") + "calendar/", home("alice") + "nothing/"},
		{home("alice") + "calendar/x.ics", home("alice") + "nothing/x.ics"},
		{home("alice") + "calendar/x.ics", home("nobody") + "calendar/x.ics"},
	} {
		resp, err := bob.History(bg, &feedv1.HistoryRequest{Path: tc.theirs})
		if status.Code(err) != codes.NotFound {
			t.Errorf("bob reading %s: %v %v, want NotFound", tc.theirs, resp, err)
		}
		_, errNone := bob.History(bg, &feedv1.HistoryRequest{Path: tc.none})
		if got, want := strings.ReplaceAll(status.Convert(err).Message(), tc.theirs, "P"),
			strings.ReplaceAll(status.Convert(errNone).Message(), tc.none, "P"); got != want || status.Code(errNone) != codes.NotFound {
			t.Errorf("bob reading %s: %q; a path that does not exist: %v", tc.theirs, got, errNone)
		}
	}
	head, err := alice.Head(bg, &feedv1.HeadRequest{})
	if err != nil || head.Seq != uint64(db.Head()) {
		t.Errorf("head = %v %v, want %d", head, err, db.Head())
	}
}

// TestSubscribeCollectionMoveAndProps: a renamed collection and a PROPPATCH
// on an object reach subscribers with the fields a consumer needs.
func TestSubscribeCollectionMoveAndProps(t *testing.T) {
	db := MustOpenDB(t)
	ts := MustServe(t, db, Options{})
	r := MustPut(t, db, "alice", "a.ics")
	m := engine.Meta{Actor: "alice"}
	err := db.UpdateObjectProps(bg, m, home("alice")+"calendar/", "a.ics", func(d map[string]string) error {
		d["{urn:x}k"] = "<k/>"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.MoveCollection(bg, m, home("alice")+"calendar/", home("alice")+"work/", false); err != nil {
		t.Fatal(err)
	}
	s, err := ts.client(t, basic("alice", "secret")).Subscribe(deadline(t, time.Minute), &feedv1.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var props, moved *feedv1.Change
	for _, c := range collect(t, s, uint64(db.Head())) {
		switch c.Op {
		case feedv1.Op_OP_OBJECT_PROPS_CHANGED:
			props = c
		case feedv1.Op_OP_COLLECTION_MOVED:
			moved = c
		}
	}
	if props == nil || props.Object != "a.ics" || props.Etag != r.ETag || props.Principal != "alice" {
		t.Errorf("props change = %v", props)
	}
	work, _ := db.Collection(home("alice") + "work/")
	if moved == nil || moved.Collection != home("alice")+"calendar/" || moved.ToCollection != home("alice")+"work/" ||
		moved.ToPrincipal != "alice" || moved.ToSyncToken != work.SyncToken {
		t.Errorf("collection move = %v", moved)
	}
}

// TestMetricsNameNoUser: /metrics needs no credentials, so the
// subscriber lag label is an opaque id, never the user name.
func TestMetricsNameNoUser(t *testing.T) {
	db := MustOpenDB(t)
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, db)
	if err != nil {
		t.Fatal(err)
	}
	ts := MustServe(t, db, Options{Metrics: m})
	s, err := ts.client(t, basic("alice", "secret")).Subscribe(deadline(t, time.Minute), &feedv1.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	var labels []string
	waitFor(t, 30*time.Second, "the subscriber's lag metric", func() bool {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		labels = nil
		for _, mf := range mfs {
			for _, mt := range mf.GetMetric() {
				for _, l := range mt.GetLabel() {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
			}
		}
		return len(labels) > 0
	})
	for _, l := range labels {
		if strings.Contains(l, "alice") || !strings.HasPrefix(l, "subscriber=") {
			t.Errorf("label %s", l)
		}
	}
}

// TestSubscribeReadsOwnLog: a user's Subscribe reads the engine's owner
// index, not everyone's log: reading from seq 1 for a user without data
// over a log of thousands of others' changes allocates next to nothing
// (the whole log decoded would allocate per event), and it still reaches
// the head. Head tells a user the last seq of their own changes, not the
// global count.
func TestSubscribeReadsOwnLog(t *testing.T) {
	db := MustOpenDB(t)
	for i := range 2000 {
		MustPut(t, db, "alice", fmt.Sprintf("a%d.ics", i))
	}
	ts := MustServe(t, db, Options{})
	sub := &subscription{s: ts.srv, who: Principal{Name: "nobody"}, filter: change.Filter{Reader: "nobody"}}
	var head, last engine.Seq
	allocs := testing.AllocsPerRun(5, func() {
		var batch []*feedv1.Change
		var err error
		batch, head, last, err = sub.readChunk(1)
		if err != nil || len(batch) != 0 {
			t.Fatalf("batch %d, err %v", len(batch), err)
		}
	})
	if last != head || head != db.Head() {
		t.Errorf("read to %d, head %d, want %d", last, head, db.Head())
	}
	if allocs > 200 {
		t.Errorf("reading a log of %d events for a user without data: %v allocations", db.Head(), allocs)
	}

	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	bobLast, err := v.LastOwned("bob")
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ts.client(t, basic("bob", "secret")).Head(bg, &feedv1.HeadRequest{})
	if err != nil || got.Seq != uint64(bobLast) || bobLast == 0 || bobLast >= db.Head() {
		t.Errorf("bob's head = %v %v, want his last change %d (the log's head is %d)", got, err, bobLast, db.Head())
	}
	got, err = ts.client(t, basic("admin", "secret")).Head(bg, &feedv1.HeadRequest{})
	if err != nil || got.Seq != uint64(db.Head()) {
		t.Errorf("admin's head = %v %v, want %d", got, err, db.Head())
	}
}

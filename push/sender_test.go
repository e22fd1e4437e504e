package push

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/push/pushtest"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var (
	ctx   = context.Background()
	alice = engine.Meta{Actor: "alice"}
	bob   = engine.Meta{Actor: "bob"}
)

// env is a store with alice's home and calendars, a test push service
// and the VAPID keys.
type env struct {
	t    *testing.T
	fs   vfs.FS
	db   *engine.DB
	svc  *pushtest.Service
	keys *Keys
	dir  string
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, fs: vfs.NewMem(), dir: t.TempDir()}
	e.open()
	for _, u := range []string{"alice", "bob"} {
		if err := e.db.PutUser(ctx, engine.Meta{}, engine.User{Name: u}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.CreateCollection(ctx, engine.Meta{Actor: u}, engine.CollectionSpec{Path: "/dav/home/" + u + "/", Kind: engine.KindHome, Owner: u}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"a", "b", "c"} {
		if _, err := e.db.CreateCollection(ctx, alice, engine.CollectionSpec{Path: "/dav/home/alice/" + c + "/", Kind: engine.KindCalendar, Owner: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	e.svc = pushtest.New(t)
	var err error
	if e.keys, _, err = LoadKeys(e.dir); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) open() {
	db, err := engine.Open("db", &engine.Options{FS: e.fs})
	if err != nil {
		e.t.Fatal(err)
	}
	e.db = db
	e.t.Cleanup(func() { db.Close() })
}

// register subscribes name at the service and registers it for m on coll.
func (e *env) register(m engine.Meta, coll, name string, props bool) *engine.PushRegistration {
	res, pub, auth := e.svc.Subscribe(name)
	r, _, err := e.db.RegisterPush(ctx, m, coll, engine.PushRegistration{PushResource: res, PublicKey: pub, AuthSecret: auth, ContentUpdate: true, PropertyUpdate: props,
		VAPIDKey: e.keys.Current().Public}, time.Time{})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// start runs a sender until the test ends (or stop is called).
func (e *env) start(o Options) (s *Sender, stop func()) {
	o.DB, o.Keys, o.AllowPrivate = e.db, e.keys, true
	s, err := NewSender(o)
	if err != nil {
		e.t.Fatal(err)
	}
	c, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(c) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				e.t.Errorf("Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return s, stop
}

func (e *env) put(m engine.Meta, coll, name, body string) {
	if _, err := e.db.PutObject(ctx, m, coll, name, []byte(body), engine.PutOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) token(path string) string {
	v, err := e.db.View()
	if err != nil {
		e.t.Fatal(err)
	}
	defer v.Close()
	c, err := v.Collection(path)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.SyncToken
}

func ev(uid string, alarm bool) string {
	return evAt(uid, time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC), alarm)
}

// evAt is an event starting at start, with an alarm when alarm is set.
func evAt(uid string, start time.Time, alarm bool) string {
	a := ""
	if alarm {
		a = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n"
	}
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:" + start.UTC().Format("20060102T150405Z") + "\r\nSUMMARY:x\r\n" + a + "END:VEVENT\r\nEND:VCALENDAR\r\n"
}

// TestDelivery: a put reaches the registration as a decrypted
// push-message (VAPID verified by the service) with the collection's
// topic and its new sync-token, and the Topic, TTL and Urgency headers;
// a PROPPATCH reaches a property-update registration only; a collection
// created in the home is a content-update of the home.
func TestDelivery(t *testing.T) {
	e := newEnv(t)
	a := e.register(alice, "/dav/home/alice/a/", "phone", true)
	e.register(alice, "/dav/home/alice/a/", "content-only", false)
	e.register(alice, "/dav/home/alice/", "home", false)
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := e.start(Options{Metrics: m})
	e.put(alice, "/dav/home/alice/a/", "1.ics", evAt("1", time.Now().Add(time.Hour), true)) // an alarm due soon
	want := e.token("/dav/home/alice/a/")
	got := e.svc.Await("phone", func(r pushtest.Received) bool { return r.Msg.SyncToken == want })
	if got.Msg.Topic != e.db.PushTopic(a.CollectionID) || !got.Msg.ContentUpdate || got.Msg.PropertyUpdate {
		t.Errorf("message %+v", got.Msg)
	}
	if got.VAPIDKey != e.keys.Current().Public || got.Urgency != "high" || got.TTL != "86400" || len(got.Topic) != 24 || strings.Contains(got.Topic, got.Msg.Topic) {
		t.Errorf("headers: k=%s urgency=%s ttl=%s topic=%s", got.VAPIDKey, got.Urgency, got.TTL, got.Topic)
	}
	e.svc.Await("content-only", func(r pushtest.Received) bool { return r.Msg.SyncToken == want })

	if err := e.db.UpdateProps(ctx, alice, "/dav/home/alice/a/", func(p *engine.Props) error { p.DisplayName = "A"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.CreateCollection(ctx, alice, engine.CollectionSpec{Path: "/dav/home/alice/new/", Kind: engine.KindCalendar, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	p := e.svc.Await("phone", func(r pushtest.Received) bool { return r.Msg.PropertyUpdate })
	if p.Msg.ContentUpdate || p.Msg.SyncToken != "" {
		t.Errorf("property-update %+v", p.Msg)
	}
	home := e.token("/dav/home/alice/")
	e.svc.Await("home", func(r pushtest.Received) bool { return r.Msg.SyncToken == home })
	// Barrier: one more put (an alarm of last January: not urgent);
	// content-only never got a property-update.
	e.put(alice, "/dav/home/alice/a/", "2.ics", ev("2", true))
	last := e.token("/dav/home/alice/a/")
	if r := e.svc.Await("content-only", func(r pushtest.Received) bool { return r.Msg.SyncToken == last }); r.Urgency != "normal" {
		t.Errorf("a past alarm: Urgency %s", r.Urgency)
	}
	for _, r := range e.svc.Messages("content-only") {
		if r.Msg.PropertyUpdate {
			t.Errorf("content-only got %+v", r.Msg)
		}
	}
	waitFor(t, func() bool { return testutil.ToFloat64(m.sent) >= 5 }) // phone 2, content-only 2, home 1
	if s.LastDelivery(a.ID).IsZero() || !s.LastDelivery("no-such-id").IsZero() {
		t.Errorf("LastDelivery: phone %v, an unknown id %v; want a time and zero", s.LastDelivery(a.ID), s.LastDelivery("no-such-id"))
	}
	if n := testutil.CollectAndCount(m.latency); n != 1 {
		t.Errorf("latency histogram: %d series", n)
	}
}

// follow runs a sender's follow and returns the registrations it marked.
func marked(s *Sender) map[string]*pend {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]*pend{}
	for id, p := range s.pending {
		if p.waiting() {
			out[id] = p
		}
	}
	return out
}

// TestMergingAndDontNotify: changes within MinInterval of the last message
// wait and go as one message with the latest token (merged counted);
// Push-Dont-Notify skips the writer's named registration, "*" all the
// writer's, never another user's.
func TestMergingAndDontNotify(t *testing.T) {
	e := newEnv(t)
	if err := e.db.Grant(ctx, alice, "/dav/home/alice/a/", "bob", engine.AccessRead, engine.GrantOptions{AutoAccept: true}); err != nil {
		t.Fatal(err)
	}
	pa := e.register(alice, "/dav/home/alice/a/", "phone", false)
	la := e.register(alice, "/dav/home/alice/a/", "laptop", false)
	bb := e.register(bob, "/dav/home/alice/a/", "bob", false)
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	reg := prometheus.NewRegistry()
	m, _ := NewMetrics(reg)
	s, err := NewSender(Options{DB: e.db, Keys: e.keys, AllowPrivate: true, MinInterval: time.Hour, Clock: clock, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := e.db.Cursor("push"); err != nil || c != e.db.Head() {
		t.Errorf("a first sender starts at the head %d, not %d (%v)", e.db.Head(), c, err)
	}
	for _, id := range []string{pa.ID, la.ID, bb.ID} {
		s.lastSent[id] = now // each got a message just now: the next waits an hour
	}
	head := e.db.Head()
	phoneOnly := alice
	phoneOnly.DontNotify = []string{pa.ID, bb.ID} // bob's id: not alice's to suppress
	e.put(phoneOnly, "/dav/home/alice/a/", "1.ics", ev("1", false))
	if err := s.follow(head, e.db.Head()); err != nil {
		t.Fatal(err)
	}
	got := marked(s)
	if got[pa.ID] != nil || got[la.ID] == nil || got[bb.ID] == nil {
		t.Fatalf("after a put naming the phone: marked %v", keysOf(got))
	}
	head = e.db.Head()
	all := alice
	all.DontNotify = []string{"*"}
	for _, n := range []string{"2", "3", "4"} {
		e.put(all, "/dav/home/alice/a/", n+".ics", ev(n, false))
	}
	if err := s.follow(head, e.db.Head()); err != nil {
		t.Fatal(err)
	}
	if got := marked(s); got[pa.ID] != nil || len(got) != 2 || got[la.ID].first != head {
		t.Fatalf("after puts with *: marked %v", keysOf(got))
	}
	if n := testutil.ToFloat64(m.merged); n != 3 { // bob's three
		t.Errorf("merged %v, want 3", n)
	}
	if next := s.dispatch(ctx); !next.Equal(now.Add(time.Hour)) {
		t.Errorf("next due %v, want %v", next, now.Add(time.Hour))
	}
	if n := len(e.svc.Messages("laptop")) + len(e.svc.Messages("bob")); n != 0 {
		t.Fatalf("%d messages before the interval passed", n)
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	s.dispatch(ctx)
	s.wg.Wait()
	want := e.token("/dav/home/alice/a/")
	for _, name := range []string{"laptop", "bob"} {
		msgs := e.svc.Messages(name)
		if len(msgs) != 1 || msgs[0].Msg.SyncToken != want {
			t.Errorf("%s got %d messages, want one with the latest token", name, len(msgs))
		}
	}
	if len(e.svc.Messages("phone")) != 0 {
		t.Error("the phone was told of its own writes")
	}
}

func keysOf(m map[string]*pend) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestPruneExpireBackoff: 410 removes the registration with an event
// saying why; 503 backs off and the message goes once the service
// recovers; an expired registration is purged and never sent to.
func TestPruneExpireBackoff(t *testing.T) {
	e := newEnv(t)
	gone := e.register(alice, "/dav/home/alice/a/", "gone", false)
	flaky := e.register(alice, "/dav/home/alice/a/", "flaky", false)
	var mu sync.Mutex
	fails := 2
	e.svc.Status = func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case name == "gone":
			return http.StatusGone
		case name == "flaky" && fails > 0:
			fails--
			return http.StatusServiceUnavailable
		}
		return http.StatusCreated
	}
	reg := prometheus.NewRegistry()
	m, _ := NewMetrics(reg)
	e.start(Options{Metrics: m})
	e.put(alice, "/dav/home/alice/a/", "1.ics", ev("1", false))
	want := e.token("/dav/home/alice/a/")
	e.svc.Await("flaky", func(r pushtest.Received) bool { return r.Msg.SyncToken == want })
	if testutil.ToFloat64(m.failed) < 2 {
		t.Errorf("failed %v", testutil.ToFloat64(m.failed))
	}
	waitFor(t, func() bool {
		v, _ := e.db.View()
		defer v.Close()
		_, err := v.PushRegistration(gone.ID)
		return errors.Is(err, engine.ErrNotFound)
	})
	if !hasUnregistered(t, e.db, gone.ID, "the push service answered 410") {
		t.Error("no OpPushUnregistered naming the 410")
	}
	_ = flaky

	// Expiry: a registration made to last PushMinLifetime, a sender whose
	// clock is past it.
	res, pub, auth := e.svc.Subscribe("old")
	old, _, err := e.db.RegisterPush(ctx, alice, "/dav/home/alice/b/", engine.PushRegistration{PushResource: res, PublicKey: pub, AuthSecret: auth, ContentUpdate: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return time.Now().Add(2 * engine.PushMinLifetime) }
	s2, err := NewSender(Options{DB: e.db, Keys: e.keys, AllowPrivate: true, Clock: later, Cursor: "push2"})
	if err != nil {
		t.Fatal(err)
	}
	if out := s2.send(ctx, message{id: old.ID, content: true}); out != dropped {
		t.Errorf("an expired registration was sent to: %v", out)
	}
	s2.sweep(ctx)
	if !hasUnregistered(t, e.db, old.ID, "expired") {
		t.Error("the expired registration was not purged")
	}
	if len(e.svc.Messages("old")) != 0 {
		t.Error("an expired registration got a message")
	}
}

func hasUnregistered(t *testing.T, db *engine.DB, id, reason string) bool {
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for ev, err := range v.Log(1) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Op == engine.OpPushUnregistered && ev.Push.Registration.ID == id && ev.Reason == reason && ev.Actor == "almanac" {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 2 minutes")
		}
	}
}

// TestKeyRotation: after RotateKeys and the engine's OpPushKeyRotated,
// every registration gets a property-update naming transports, signed
// with the previous key (the one its subscription was made for); later
// messages are signed with the new key, which the key file holds (0600).
func TestKeyRotation(t *testing.T) {
	e := newEnv(t)
	e.register(alice, "/dav/home/alice/a/", "phone", false)
	e.register(alice, "/dav/home/alice/b/", "tablet", false)
	old := e.keys.Current().Public
	e.start(Options{})
	k, err := RotateKeys(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Reload(); err != nil {
		t.Fatal(err)
	}
	if k.Current().Public == old || e.keys.Current().Public != k.Current().Public {
		t.Fatal("the key did not change")
	}
	if err := e.db.RotatePushKey(ctx, engine.Meta{Actor: "almanac"}, k.Current().Public); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"phone", "tablet"} {
		r := e.svc.Await(name, func(r pushtest.Received) bool { return r.Msg.PropertyUpdate })
		if r.VAPIDKey != old || len(r.Msg.Props) != 1 || r.Msg.Props[0] != "transports" {
			t.Errorf("%s: rotation message %+v signed with %s", name, r.Msg, r.VAPIDKey)
		}
	}
	e.put(alice, "/dav/home/alice/a/", "1.ics", ev("1", false))
	want := e.token("/dav/home/alice/a/")
	if r := e.svc.Await("phone", func(r pushtest.Received) bool { return r.Msg.SyncToken == want }); r.VAPIDKey != k.Current().Public {
		t.Errorf("after the rotation signed with %s", r.VAPIDKey)
	}
	if _, created, err := LoadKeys(e.dir); err != nil || created {
		t.Errorf("reload: %v %v", created, err)
	}
}

// TestRestartMidBurst: a burst to three collections while the push
// service fails; the sender stops with messages waiting; a new sender on
// the reopened store delivers the last token of each topic.
func TestRestartMidBurst(t *testing.T) {
	e := newEnv(t)
	colls := []string{"/dav/home/alice/a/", "/dav/home/alice/b/", "/dav/home/alice/c/"}
	for i, c := range colls {
		e.register(alice, c, "dev"+string(rune('0'+i)), false)
	}
	var mu sync.Mutex
	down := true
	e.svc.Status = func(string) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusServiceUnavailable
		}
		return http.StatusCreated
	}
	_, stop := e.start(Options{MinInterval: time.Millisecond})
	for i := range 30 {
		e.put(alice, colls[i%3], "x"+string(rune('a'+i))+".ics", ev("u"+string(rune('a'+i)), false))
	}
	head := e.db.Head()
	waitFor(t, func() bool { c, _ := e.db.Cursor("push"); return c > 0 }) // it ran and saved
	stop()
	if c, _ := e.db.Cursor("push"); c >= head {
		t.Fatalf("cursor %d passed undelivered changes (head %d)", c, head)
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.open()
	mu.Lock()
	down = false
	mu.Unlock()
	e.start(Options{MinInterval: time.Millisecond})
	for i, c := range colls {
		want := e.token(c)
		e.svc.Await("dev"+string(rune('0'+i)), func(r pushtest.Received) bool { return r.Msg.SyncToken == want })
	}
	waitFor(t, func() bool { c, _ := e.db.Cursor("push"); return c >= head })
}

// TestEndpoints: without AllowPrivate only https to public addresses is
// accepted, and the dialer refuses a name that resolves to loopback.
func TestEndpoints(t *testing.T) {
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"https://push.example.net/x", true},
		{"https://203.0.113.9/x", true},
		{"http://push.example.net/x", false},
		{"https://127.0.0.1/x", false},
		{"https://[::1]/x", false},
		{"https://10.1.2.3/x", false},
		{"https://192.168.1.1/x", false},
		{"https://169.254.169.254/latest", false},
		{"https://localhost/x", false},
		{"https://100.64.0.1/x", false},
	} {
		if err := checkEndpoint(tt.url, false); (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.url, err)
		}
		if err := checkEndpoint(tt.url, true); err != nil {
			t.Errorf("%s with AllowPrivate: %v", tt.url, err)
		}
	}
	svc := pushtest.New(t)
	c := newClient(time.Second, false, 1)
	_, err := c.Post(strings.Replace(svc.Server.URL, "127.0.0.1", "localhost", 1)+"/push/x", "text/plain", nil)
	if !errors.Is(err, errPrivate) {
		t.Errorf("dial of localhost: %v", err)
	}
}

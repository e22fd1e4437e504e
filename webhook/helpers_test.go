package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

var bg = context.Background()

func home(u string) string { return "/dav/home/" + u + "/" }

// mustOpenDB opens an engine in dir with users alice, bob and carol, each
// with a home and a calendar.
func mustOpenDB(tb testing.TB, dir string) *engine.DB {
	tb.Helper()
	db, err := engine.Open(dir, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if db.Head() > 0 {
		return db
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		m := engine.Meta{Actor: u}
		if err := db.PutUser(bg, m, engine.User{Name: u, PasswordHash: "x", Role: engine.RoleUser}); err != nil {
			tb.Fatal(err)
		}
		for _, c := range []engine.CollectionSpec{
			{Path: home(u), Kind: engine.KindHome, Owner: u},
			{Path: home(u) + "calendar/", Kind: engine.KindCalendar, Owner: u},
		} {
			if _, err := db.CreateCollection(bg, m, c); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return db
}

// mustPut writes one calendar object as user u into their calendar.
func mustPut(tb testing.TB, db *engine.DB, u, name string) engine.Seq {
	tb.Helper()
	body := fmt.Appendf(nil, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", name, name)
	r, err := db.PutObject(bg, engine.Meta{Actor: u}, home(u)+"calendar/", name, body, engine.PutOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return r.Seq
}

// receiver is a webhook endpoint that checks every request's signature
// with its own implementation of the Standard Webhooks scheme (from the
// whsec_ string, as a receiver would) and records what it accepted.
type receiver struct {
	*httptest.Server
	secret string // whsec_…

	mu       sync.Mutex
	requests int
	answer   func(n int) int // the status of request n (from 1); nil: 204
	accepted []*feedv1.Change
	ids      []string // webhook-id of each accepted request
	badSig   int
}

func newReceiver(tb testing.TB) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	status := http.StatusNoContent
	if r.answer != nil {
		status = r.answer(r.requests)
	}
	if !verify(r.secret, req.Header, body, time.Now()) {
		r.badSig++
		status = http.StatusUnauthorized
	}
	if status/100 == 2 {
		ch := &feedv1.Change{}
		if err := protojson.Unmarshal(body, ch); err != nil {
			r.badSig++
		}
		r.accepted = append(r.accepted, ch)
		r.ids = append(r.ids, req.Header.Get("Webhook-Id"))
	}
	w.WriteHeader(status)
}

// verify is the receiver's check, written apart from Sign: the key from
// the whsec_ string, the signed text built as one string, each listed
// signature decoded and compared in constant time, and a timestamp within
// five minutes.
func verify(secret string, h http.Header, body []byte, now time.Time) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		return false
	}
	id, ts := h.Get("Webhook-Id"), h.Get("Webhook-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, key)
	io.WriteString(mac, id+"."+ts+"."+string(body))
	want := mac.Sum(nil)
	for _, s := range strings.Fields(h.Get("Webhook-Signature")) {
		v, sig, ok := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if ok && v == "v1" && err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// snapshot returns the accepted changes' seqs and the count of bad
// signatures.
func (r *receiver) snapshot() (seqs []uint64, ids []string, bad, requests int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.accepted {
		seqs = append(seqs, c.Seq)
	}
	return seqs, append([]string(nil), r.ids...), r.badSig, r.requests
}

// objects returns principal/object of the accepted puts.
func (r *receiver) objects() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.accepted {
		if c.Op == feedv1.Op_OP_OBJECT_PUT {
			out = append(out, c.Principal+"/"+c.Object)
		}
	}
	return out
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// start runs a Deliverer until the test ends (or stop is called).
func start(tb testing.TB, opts Options) (d *Deliverer, stop func()) {
	tb.Helper()
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = time.Millisecond, 4*time.Millisecond
	}
	d, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	tb.Cleanup(stop)
	return d, stop
}

// mustWebhook creates a webhook to r and sets r's secret.
func mustWebhook(tb testing.TB, db *engine.DB, r *receiver, w engine.Webhook) *engine.Webhook {
	tb.Helper()
	w.URL = r.URL + "/hook"
	made, key, err := db.CreateWebhook(bg, engine.Meta{Actor: "test"}, w)
	if err != nil {
		tb.Fatal(err)
	}
	r.mu.Lock()
	r.secret = FormatSecret(key)
	r.mu.Unlock()
	return made
}

package push

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/push/pushtest"
)

type benchAuth struct{}

func (benchAuth) Authenticate(_ context.Context, user, _, _ string) (*engine.User, error) {
	return &engine.User{Name: user}, nil
}

// BenchmarkPushLatency measures the time from a PUT's HTTP response to
// the decrypted push-message at the test push service (pushtest) that
// tells of it: 1,000 calendars with one registration each, 16 clients
// writing over HTTP, each PUT to the next calendar in turn. The engine is
// on the disk (fsync). A message tells of a PUT when its sync-token is at
// or past the PUT's event, so changes merged into one message (a calendar
// written again within --push-min-interval, which the benchmark sets to a
// microsecond so that it measures the sender and not the merging delay)
// are attributed to the message that carried them. A message that arrives
// before its PUT's response counts as 0. Reports p50-ms, p99-ms and
// max-ms.
func BenchmarkPushLatency(b *testing.B) {
	const colls, writers = 1000, 16
	db, err := engine.Open(b.TempDir(), &engine.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	keys, _, err := LoadKeys(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSender(Options{DB: db, Keys: keys, AllowPrivate: true, MinInterval: time.Microsecond})
	if err != nil {
		b.Fatal(err)
	}
	h, err := dav.NewHandler(dav.Options{DB: db, Auth: benchAuth{}, Push: s})
	if err != nil {
		b.Fatal(err)
	}
	web := httptest.NewServer(h)
	defer web.Close()
	svc := pushtest.New(b)
	m := engine.Meta{Actor: "alice"}
	if _, err := db.CreateCollection(context.Background(), m, engine.CollectionSpec{Path: "/dav/home/alice/", Kind: engine.KindHome, Owner: "alice"}); err != nil {
		b.Fatal(err)
	}
	topics := make([]string, colls)
	ids := make([]uint64, colls)
	for i := range colls {
		p := fmt.Sprintf("/dav/home/alice/c%04d/", i)
		c, err := db.CreateCollection(context.Background(), m, engine.CollectionSpec{Path: p, Kind: engine.KindCalendar, Owner: "alice"})
		if err != nil {
			b.Fatal(err)
		}
		topics[i], ids[i] = db.PushTopic(c.ID), c.ID
		res, pub, auth := svc.Subscribe(fmt.Sprint(i))
		if _, _, err := db.RegisterPush(context.Background(), m, p, engine.PushRegistration{PushResource: res, PublicKey: pub, AuthSecret: auth, ContentUpdate: true}, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	type put struct {
		uid string
		at  time.Time
	}
	putDone := make([][]put, colls)
	var mu sync.Mutex
	var next atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: writers}}
	b.ResetTimer()
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1) - 1
				if n >= int64(b.N) {
					return
				}
				i := int(n % colls)
				uid := fmt.Sprintf("u%d", n)
				body := strings.ReplaceAll("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//b//EN\r\nBEGIN:VEVENT\r\nUID:X\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "X", uid)
				req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/dav/home/alice/c%04d/%s.ics", web.URL, i, uid), strings.NewReader(body))
				req.SetBasicAuth("alice", "x")
				req.Header.Set("Content-Type", "text/calendar")
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != http.StatusCreated {
					b.Errorf("PUT: %v %v", err, resp)
					return
				}
				resp.Body.Close()
				t := time.Now()
				mu.Lock()
				putDone[i] = append(putDone[i], put{uid + ".ics", t})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Each PUT's latency: to the first message whose sync-token is at or
	// past the PUT's event. Await waits for the message of the calendar's
	// last write.
	var lat []time.Duration
	for i := range colls {
		name := fmt.Sprint(i)
		seqs := make([]engine.Seq, len(putDone[i]))
		bySeq := map[string]engine.Seq{}
		var last engine.Seq
		for k, p := range putDone[i] {
			o, err := db.Object(fmt.Sprintf("/dav/home/alice/c%04d/", i), p.uid, false)
			if err != nil {
				b.Fatal(err)
			}
			seqs[k], last = o.Seq, max(last, o.Seq)
			bySeq[db.SyncToken(ids[i], o.Seq)] = o.Seq
		}
		if len(seqs) == 0 {
			continue
		}
		svc.Await(name, func(r pushtest.Received) bool { return bySeq[r.Msg.SyncToken] == last })
		got := svc.Messages(name)
		for k, at := range putDone[i] {
			var when time.Time
			for _, r := range got {
				if r.Msg.Topic != topics[i] {
					b.Fatalf("calendar %d: topic %q", i, r.Msg.Topic)
				}
				if seq, ok := bySeq[r.Msg.SyncToken]; ok && seq >= seqs[k] {
					when = r.At
					break
				}
			}
			if when.IsZero() {
				b.Fatalf("calendar %d: no message tells of %s", i, at.uid)
			}
			lat = append(lat, max(when.Sub(at.at), 0))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}

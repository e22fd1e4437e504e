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
// the decrypted push-message at the test push service (pushtest): 1,000
// calendars with one registration each, 16 clients writing over HTTP
// (each PUT to the next calendar in turn, so a calendar is written again
// only after 1,000 other writes and no message waits for
// --push-min-interval). The engine is on the disk (fsync). A message
// that arrives before its PUT's response counts as 0. Reports p50-ms,
// p99-ms and max-ms.
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
	s, err := NewSender(Options{DB: db, Keys: keys, AllowPrivate: true})
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
	for i := range colls {
		p := fmt.Sprintf("/dav/home/alice/c%04d/", i)
		c, err := db.CreateCollection(context.Background(), m, engine.CollectionSpec{Path: p, Kind: engine.KindCalendar, Owner: "alice"})
		if err != nil {
			b.Fatal(err)
		}
		topics[i] = db.PushTopic(c.ID)
		res, pub, auth := svc.Subscribe(fmt.Sprint(i))
		if _, _, err := db.RegisterPush(context.Background(), m, p, engine.PushRegistration{PushResource: res, PublicKey: pub, AuthSecret: auth, ContentUpdate: true}, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	putDone := make([][]time.Time, colls)
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
				putDone[i] = append(putDone[i], t)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Wait for every collection's messages: one per PUT.
	var lat []time.Duration
	for i := range colls {
		want := len(putDone[i])
		if want == 0 {
			continue
		}
		msgs := svc.Await(fmt.Sprint(i), func(pushtest.Received) bool { return len(svc.Messages(fmt.Sprint(i))) >= want })
		_ = msgs
		got := svc.Messages(fmt.Sprint(i))
		if len(got) != want {
			b.Fatalf("calendar %d: %d messages for %d PUTs", i, len(got), want)
		}
		for k, r := range got {
			if r.Msg.Topic != topics[i] {
				b.Fatalf("calendar %d: topic %q", i, r.Msg.Topic)
			}
			lat = append(lat, max(r.At.Sub(putDone[i][k]), 0))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

const feedTestEvent = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:e2e-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:e2e\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

// TestFeedEndToEnd: a DAV PUT through the HTTP server reaches a gRPC
// subscriber and a JetStream consumer, and /metrics reports the feed.
func TestFeedEndToEnd(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("reader-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	readers := filepath.Join(t.TempDir(), "nats-readers")
	if err := os.WriteFile(readers, []byte("consumer:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--nats=on", "--nats-listen=127.0.0.1:0", "--nats-readers="+readers)
	rt := runtimeFor(s.DB)
	if rt == nil || rt.grpcAddr == "" || rt.nats == nil {
		t.Fatalf("feed runtime = %+v, want gRPC and embedded NATS", rt)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cc, err := grpc.NewClient(rt.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(authCreds{"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+testPassword)), false}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := feedv1.NewChangeFeedServiceClient(cc)
	head, err := client.Head(ctx, &feedv1.HeadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := client.Subscribe(ctx, &feedv1.SubscribeRequest{FromSeq: head.Seq + 1})
	if err != nil {
		t.Fatal(err)
	}
	// The status page's figures (webRuntime): this subscriber, once the
	// server registered it, and the embedded NATS publisher.
	status := webRuntime(s.DB, nil)
	for st := status(); st.FeedSubscribers != 1 && ctx.Err() == nil; st = status() {
		time.Sleep(10 * time.Millisecond)
	}
	if st := status(); !st.GRPCFeed || st.FeedSubscribers != 1 || !st.NATS || st.Cluster {
		t.Errorf("status page runtime with one subscriber: %+v, want the gRPC feed with 1 subscriber, NATS, no cluster", st)
	}

	if nc, err := nats.Connect(rt.nats.ClientURL(), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("an anonymous NATS client connected")
	}
	nc, err := nats.Connect(rt.nats.ClientURL(), nats.UserInfo("consumer", "reader-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var cons jetstream.Consumer
	for cons == nil { // the publisher creates the stream
		cons, err = js.CreateOrUpdateConsumer(ctx, "ALMANAC", jetstream.ConsumerConfig{
			FilterSubject: "almanac.alice.calendar.calendar.put", AckPolicy: jetstream.AckExplicitPolicy,
		})
		if err != nil && ctx.Err() != nil {
			t.Fatalf("consumer: %v", err)
		}
		if err != nil {
			time.Sleep(10 * time.Millisecond)
		}
	}

	// The stream serve creates is a bounded window (--nats-max-bytes).
	if st, err := js.Stream(ctx, "ALMANAC"); err != nil {
		t.Fatal(err)
	} else if cfg := st.CachedInfo().Config; cfg.MaxBytes != defaultNATSMaxBytes || cfg.Discard != jetstream.DiscardOld {
		t.Errorf("stream max bytes %d, discard %v; want %d, old", cfg.MaxBytes, cfg.Discard, defaultNATSMaxBytes)
	}

	resp, _ := s.Do(t, http.MethodPut, "/dav/home/alice/calendar/e2e.ics", "alice", feedTestEvent,
		"Content-Type", "text/calendar", "User-Agent", "e2e-client/1.0")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	etag := resp.Header.Get("ETag")

	var put *feedv1.Change
	for put == nil {
		r, err := stream.Recv()
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
		for _, ch := range r.Changes {
			if ch.Op == feedv1.Op_OP_OBJECT_PUT && ch.Object == "e2e.ics" {
				put = ch
			}
		}
	}
	if put.Actor != "alice" || put.UserAgent != "e2e-client/1.0" || put.Etag != etag || put.Collection != "/dav/home/alice/calendar/" {
		t.Errorf("gRPC change = %v, want alice's put with ETag %s", put, etag)
	}

	msg, err := cons.Next(jetstream.FetchMaxWait(time.Minute))
	if err != nil {
		t.Fatalf("NATS: %v", err)
	}
	var got feedv1.Change
	if err := proto.Unmarshal(msg.Data(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Seq != put.Seq || got.Etag != etag || string(got.Body) != feedTestEvent {
		t.Errorf("NATS change seq %d etag %s body %dB, want seq %d etag %s and the body", got.Seq, got.Etag, len(got.Body), put.Seq, etag)
	}
	if id := msg.Headers().Get(jetstream.MsgIDHeader); id == "" {
		t.Error("no Nats-Msg-Id header")
	}

	mresp, err := http.Get(s.BaseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{"almanac_events_appended_total", "almanac_feed_subscribers 1", "almanac_nats_publish_lag_events", "almanac_feed_subscriber_lag_events{subscriber=\""} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestTailJSON: `almanac tail --json` prints one object per change.
func TestTailJSON(t *testing.T) {
	s := startServer(t)
	rt := runtimeFor(s.DB)
	resp, _ := s.Do(t, http.MethodPut, "/dav/home/bob/calendar/t.ics", "bob", strings.ReplaceAll(feedTestEvent, "e2e-1", "tail-1"), "Content-Type", "text/calendar")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lineWriter{want: "t.ics", cancel: cancel}
	env := func(k string) string {
		if k == "ALMANAC_PASSWORD" {
			return testPassword
		}
		return ""
	}
	done := make(chan error, 1)
	go func() {
		done <- runTail(ctx, []string{"--server", rt.grpcAddr, "--user", "bob", "--from", "1", "--json"}, out, env)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("tail printed no line for the put")
	}
	var line struct {
		Seq        uint64 `json:"seq"`
		Op         string `json:"op"`
		Actor      string `json:"actor"`
		Collection string `json:"collection"`
		Object     string `json:"object"`
	}
	if err := json.Unmarshal(out.last, &line); err != nil {
		t.Fatalf("%q: %v", out.last, err)
	}
	if line.Seq == 0 || line.Op != "put" || line.Actor != "bob" || line.Collection != "/dav/home/bob/calendar/" || line.Object != "t.ics" {
		t.Errorf("line = %+v", line)
	}
}

// lineWriter cancels once a line containing want was written.
type lineWriter struct {
	buf    bytes.Buffer
	want   string
	last   []byte
	cancel func()
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadBytes('\n')
		if err != nil {
			w.buf.Write(line)
			return len(p), nil
		}
		if bytes.Contains(line, []byte(w.want)) {
			w.last = bytes.TrimSpace(line)
			w.cancel()
		}
	}
}

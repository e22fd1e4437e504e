package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// TestGRPCOnHTTPListener: by default (--grpc-listen empty) the gRPC change
// feed answers on the --listen port beside DAV — h2c on plain HTTP, ALPN
// "h2" under TLS: the generated client's Head works, a Subscribe stream
// gets a DAV PUT, and serve shuts down cleanly (no drain timeout) with the
// stream still open, which then ends.
func TestGRPCOnHTTPListener(t *testing.T) {
	certFile, keyFile, pool := writeTestCert(t)
	for _, c := range []struct {
		name  string
		flags []string
		creds credentials.TransportCredentials
		http  *http.Client
	}{
		{"H2C", nil, insecure.NewCredentials(), http.DefaultClient},
		{"TLS", []string{"--tls-cert=" + certFile, "--tls-key=" + keyFile},
			credentials.NewTLS(&tls.Config{RootCAs: pool}),
			&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := startServer(t, append([]string{"--grpc-listen="}, c.flags...)...)
			if rt := runtimeFor(srv.DB); rt == nil || !rt.grpcOnHTTP || rt.grpcAddr != "" {
				t.Fatalf("feed runtime %+v, want gRPC on the HTTP listener and no port of its own", rt)
			}
			stream, seq := subscribeOnListener(t, srv, c.creds)
			scheme := "http"
			if c.name == "TLS" {
				scheme = "https"
			}
			req, _ := http.NewRequest(http.MethodPut, scheme+"://"+srv.Main.Addr()+"/dav/home/alice/calendar/e2e.ics", strings.NewReader(feedTestEvent))
			req.SetBasicAuth("alice", testPassword)
			req.Header.Set("Content-Type", "text/calendar")
			resp, err := c.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("DAV PUT on the same port: %s", resp.Status)
			}
			for got := false; !got; {
				r, err := stream.Recv()
				if err != nil {
					t.Fatalf("recv: %v", err)
				}
				for _, ch := range r.Changes {
					got = got || (ch.Op == feedv1.Op_OP_OBJECT_PUT && ch.Object == "e2e.ics" && ch.Seq > seq)
				}
			}
			srv.Stop(t) // fails the test if draining waited for the stream
			if _, err := stream.Recv(); err == nil {
				t.Error("the stream goes on after the server stopped")
			}
		})
	}
}

// subscribeOnListener dials the gRPC feed at srv's --listen address as
// alice and subscribes from after the head; it returns the stream and the
// head.
func subscribeOnListener(t *testing.T, srv *testServer, creds credentials.TransportCredentials) (grpc.ServerStreamingClient[feedv1.SubscribeResponse], uint64) {
	t.Helper()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+testPassword))
	cc, err := grpc.NewClient(srv.Main.Addr(), grpc.WithTransportCredentials(creds), grpc.WithPerRPCCredentials(authCreds{basic, false}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	client := feedv1.NewChangeFeedServiceClient(cc)
	head, err := client.Head(ctx, &feedv1.HeadRequest{})
	if err != nil {
		t.Fatalf("Head over the HTTP listener: %v", err)
	}
	stream, err := client.Subscribe(ctx, &feedv1.SubscribeRequest{FromSeq: head.Seq + 1})
	if err != nil {
		t.Fatal(err)
	}
	return stream, head.Seq
}

// TestNATSInProcessByDefault: without --nats-listen the embedded NATS
// server opens no TCP port, and the publisher still publishes (in
// process); --nats-readers without --nats-listen is refused, naming it.
func TestNATSInProcessByDefault(t *testing.T) {
	srv := startServer(t, "--nats=on")
	rt := runtimeFor(srv.DB)
	if rt == nil || rt.nats == nil || rt.publisher == nil {
		t.Fatalf("feed runtime %+v, want the embedded server and the publisher", rt)
	}
	if addr := rt.nats.Addr(); addr != nil {
		t.Errorf("embedded NATS listens on %v, want no TCP port", addr)
	}
	resp, _ := srv.Do(t, http.MethodPut, "/dav/home/alice/calendar/e2e.ics", "alice", feedTestEvent, "Content-Type", "text/calendar")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	head := srv.DB.Head()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for rt.publisher.Cursor() < head { // poll: the publisher has no notification
		if ctx.Err() != nil {
			t.Fatalf("publisher cursor %d, want %d (last error %v)", rt.publisher.Cursor(), head, rt.publisher.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}

	m := NewMain()
	m.Getenv = testGetenv(nil)
	m.Stdout, m.LogOutput = &syncBuffer{}, &syncBuffer{}
	m.noFirstRun = true
	if err := m.ParseFlags([]string{"--listen=127.0.0.1:0", "--data=" + t.TempDir(), "--grpc-listen=off", "--nats-readers=/dev/null"}); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--nats-listen") {
		t.Errorf("--nats-readers without --nats-listen: %v, want an error naming --nats-listen", err)
	}
}

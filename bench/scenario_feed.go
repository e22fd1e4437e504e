package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// FeedAddrs says where a server's change feed listens; empty fields are
// not measured.
type FeedAddrs struct {
	GRPC string // host:port of the gRPC ChangeFeed service
	NATS string // nats://host:port of the NATS server the feed publishes to
}

// arrivals hands each received change's object name to whoever waits for it.
type arrivals struct {
	mu      sync.Mutex
	waiting map[string]chan time.Time
}

func (a *arrivals) expect(name string) chan time.Time {
	ch := make(chan time.Time, 1)
	a.mu.Lock()
	a.waiting[name] = ch
	a.mu.Unlock()
	return ch
}

func (a *arrivals) arrived(name string, at time.Time) {
	a.mu.Lock()
	ch, ok := a.waiting[name]
	delete(a.waiting, name)
	a.mu.Unlock()
	if ok {
		ch <- at
	}
}

// RunFeed measures PUT-to-subscriber latency: cfg.N PUTs by cfg.C
// concurrent writers, each timed from the PUT's response (the write is
// acknowledged) until the subscriber (a gRPC Subscribe stream or a JetStream
// consumer, both opened before the first PUT) has the change; a change
// that arrives before its response counts as 0. One Result per transport
// in addrs.
func RunFeed(ctx context.Context, c *Client, addrs FeedAddrs, cfg Config) ([]Result, error) {
	cfg.EnsureDefaults()
	var out []Result
	if addrs.GRPC != "" {
		r, err := feedRun(ctx, c, cfg, "feed-grpc", func(ctx context.Context, a *arrivals) (func(), error) {
			return subscribeGRPC(ctx, c, addrs.GRPC, a)
		})
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	if addrs.NATS != "" {
		r, err := feedRun(ctx, c, cfg, "feed-nats", func(ctx context.Context, a *arrivals) (func(), error) {
			return subscribeNATS(ctx, addrs.NATS, a)
		})
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func feedRun(ctx context.Context, c *Client, cfg Config, scenario string,
	subscribe func(context.Context, *arrivals) (func(), error)) (Result, error) {
	res := Result{Server: c.T.Name, Scenario: scenario, N: cfg.N, C: cfg.C}
	coll := fmt.Sprintf("%s%s-%d/", c.T.CalendarHome, scenario, time.Now().UnixNano())
	if err := c.MkCalendar(ctx, coll); err != nil {
		return res, fmt.Errorf("%s: create calendar: %w", scenario, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a := &arrivals{waiting: map[string]chan time.Time{}}
	stop, err := subscribe(ctx, a)
	if err != nil {
		return res, fmt.Errorf("%s: %w", scenario, err)
	}
	defer stop()
	var (
		lat  Latencies
		mu   sync.Mutex // guards res's error fields
		next atomic.Int64
		wg   sync.WaitGroup
	)
	fail := func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		if res.Errors++; res.FirstError == "" {
			res.FirstError = msg
		}
	}
	start := time.Now()
	for range cfg.C {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.N || time.Since(start) >= cfg.Budget || ctx.Err() != nil {
					return
				}
				ev := Event(cfg.Offset+i, 0)
				got := a.expect(ev.Name)
				if _, err := c.Put(ctx, coll+ev.Name, CalendarType, ev.Body, true); err != nil {
					fail(err.Error())
					continue
				}
				acked := time.Now()
				select {
				case at := <-got:
					lat.Add(max(0, at.Sub(acked)))
				case <-time.After(10 * time.Second):
					fail("no change on the feed within 10s of the PUT of " + ev.Name)
				}
			}
		}()
	}
	wg.Wait()
	res.Summary = lat.Summary()
	res.Ops, res.ElapsedS = res.Count, time.Since(start).Seconds()
	res.Partial = res.Ops+res.Errors < cfg.N
	res.Note = fmt.Sprintf("latency from the PUT's response to the subscriber holding the change, %d writers", cfg.C)
	return res, nil
}

// subscribeGRPC opens a ChangeFeed.Subscribe stream from the current head.
func subscribeGRPC(ctx context.Context, c *Client, addr string, a *arrivals) (func(), error) {
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(c.T.User+":"+c.T.Password))
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(basicCreds(auth)))
	if err != nil {
		return nil, fmt.Errorf("grpc dial %s: %w", addr, err)
	}
	client := feedv1.NewChangeFeedServiceClient(cc)
	head, err := client.Head(ctx, &feedv1.HeadRequest{})
	if err != nil {
		cc.Close()
		return nil, fmt.Errorf("grpc head: %w", err)
	}
	stream, err := client.Subscribe(ctx, &feedv1.SubscribeRequest{FromSeq: head.Seq + 1})
	if err != nil {
		cc.Close()
		return nil, fmt.Errorf("grpc subscribe: %w", err)
	}
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			now := time.Now()
			for _, ch := range resp.Changes {
				a.arrived(objectName(ch.Object), now)
			}
		}
	}()
	return func() { cc.Close() }, nil
}

// subscribeNATS consumes the feed's JetStream stream from now on, with an
// ordered consumer, as a downstream service would.
func subscribeNATS(ctx context.Context, url string, a *arrivals) (func(), error) {
	// Credentials in the URL (nats://user:password@host) win; without
	// them the bench user connects as the NATS reader the bench set up.
	nc, err := nats.Connect(url, nats.UserInfo(BenchUser, BenchPassword))
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	cons, err := js.OrderedConsumer(ctx, FeedStream, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream consumer on %s: %w", FeedStream, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		now := time.Now()
		var ch feedv1.Change
		if proto.Unmarshal(m.Data(), &ch) == nil {
			a.arrived(objectName(ch.Object), now)
		}
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream consume: %w", err)
	}
	return func() { cc.Stop(); nc.Close() }, nil
}

// FeedStream is the JetStream stream Almanac publishes its feed to by
// default.
const FeedStream = "ALMANAC"

func objectName(object string) string { return object[strings.LastIndex(object, "/")+1:] }

// basicCreds sends an Authorization header with every RPC.
type basicCreds string

func (b basicCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": string(b)}, nil
}

func (b basicCreds) RequireTransportSecurity() bool { return false }

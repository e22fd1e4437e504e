package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/nats-io/nats.go"
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

// RunFeed measures PUT-to-subscriber latency: cfg.N PUTs, one after
// another, each timed from sending the PUT until the subscriber (a gRPC
// Subscribe stream or a NATS subscription, both opened before the first
// PUT) has the change. One Result per transport in addrs.
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
			return subscribeNATS(addrs.NATS, a)
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
	res := Result{Server: c.T.Name, Scenario: scenario, N: cfg.N, C: 1}
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
	var lat Latencies
	start := time.Now()
	for i := 0; i < cfg.N && time.Since(start) < cfg.Budget; i++ {
		ev := Event(cfg.Offset+i, 0)
		got := a.expect(ev.Name)
		t0 := time.Now()
		if _, err := c.Put(ctx, coll+ev.Name, CalendarType, ev.Body, true); err != nil {
			res.Errors++
			res.FirstError = err.Error()
			continue
		}
		select {
		case at := <-got:
			lat.Add(at.Sub(t0))
		case <-time.After(10 * time.Second):
			res.Errors++
			res.FirstError = "no change on the feed within 10s of the PUT of " + ev.Name
		}
	}
	res.Summary = lat.Summary()
	res.Ops, res.ElapsedS = res.Count, time.Since(start).Seconds()
	res.Note = "latency from sending the PUT to the subscriber holding the change"
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

// subscribeNATS subscribes to every subject the feed publishes on
// (almanac.>) and decodes the protobuf Change in each message.
func subscribeNATS(url string, a *arrivals) (func(), error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", url, err)
	}
	_, err = nc.Subscribe("almanac.>", func(m *nats.Msg) {
		now := time.Now()
		var ch feedv1.Change
		if proto.Unmarshal(m.Data, &ch) == nil {
			a.arrived(objectName(ch.Object), now)
		}
	})
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats subscribe: %w", err)
	}
	return nc.Close, nil
}

func objectName(object string) string { return object[strings.LastIndex(object, "/")+1:] }

// basicCreds sends an Authorization header with every RPC.
type basicCreds string

func (b basicCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": string(b)}, nil
}

func (b basicCreds) RequireTransportSecurity() bool { return false }

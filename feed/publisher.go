package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Payload formats of published changes.
const (
	// FormatProto publishes each change as a binary almanac.feed.v1.Change.
	FormatProto = "proto"
	// FormatJSON publishes each change as the protojson encoding of Change
	// (lowerCamelCase field names, bytes in base64, time in RFC 3339).
	FormatJSON = "json"
)

// StreamConfig describes the JetStream stream the publisher creates when it
// is missing. An existing stream is used as it is.
type StreamConfig struct {
	// Name of the stream. Default "ALMANAC".
	Name string
	// Retention is "limits", "interest" or "workqueue". Default "limits".
	Retention string
	// Replicas is the number of copies in a cluster. Default 1.
	Replicas int
	// MaxAge drops messages older than this. Default 0: kept forever.
	MaxAge time.Duration
	// Duplicates is the window in which a repeated Nats-Msg-Id is dropped.
	// Default 10 minutes.
	Duplicates time.Duration
}

// PublisherOptions configure a Publisher.
type PublisherOptions struct {
	// DB is the store whose log is published. Required.
	DB *engine.DB
	// Conn is the NATS connection; it may be (re)connecting. Required.
	Conn *nats.Conn
	// Cursor names the engine cursor (engine.DB.Cursor) that persists the
	// last acknowledged seq. Default "nats:" + the stream name.
	Cursor string
	// Stream is the stream to create when missing.
	Stream StreamConfig
	// Format is FormatProto (default) or FormatJSON.
	Format string
	// IncludeBody publishes object bodies; a body that would not fit the
	// server's max payload is left out and BodyOmitted is set.
	IncludeBody bool
	// MaxInFlight bounds unacknowledged publishes. Default 1024.
	MaxInFlight int
	// AckTimeout is how long a publish may wait for its acknowledgement
	// before the publisher starts over from its cursor. Default 5s.
	AckTimeout time.Duration
	// RetryWait is the pause after a failure (NATS down, stream missing).
	// Default 1s.
	RetryWait time.Duration
	// Logger receives the publisher's logs. Default: discard.
	Logger *slog.Logger
	// Metrics, when set, receives the publish counters.
	Metrics *Metrics
}

// Publisher is the NATS outbox: it reads the log from its cursor and
// publishes every change to JetStream with Nats-Msg-Id = seq, so the
// broker drops the duplicates a restart re-sends. The cursor advances only
// over acknowledged seqs; while NATS is down it stands still and the
// backlog drains when NATS returns.
type Publisher struct {
	opts PublisherOptions
	conv *converter

	cursor atomic.Uint64 // last acknowledged seq, all before it too
	saved  engine.Seq    // last cursor stored in the engine; owned by Run

	failing atomic.Bool // lastErr != nil
	mu      sync.Mutex
	lastErr error
}

// NewPublisher reads the cursor and returns a Publisher; Run starts it.
func NewPublisher(opts PublisherOptions) (*Publisher, error) {
	if opts.DB == nil || opts.Conn == nil {
		return nil, errors.New("feed: PublisherOptions need DB and Conn")
	}
	if opts.Stream.Name == "" {
		opts.Stream.Name = "ALMANAC"
	}
	if opts.Cursor == "" {
		opts.Cursor = "nats:" + opts.Stream.Name
	}
	if opts.Stream.Replicas <= 0 {
		opts.Stream.Replicas = 1
	}
	if opts.Stream.Duplicates <= 0 {
		opts.Stream.Duplicates = 10 * time.Minute
	}
	if _, err := retentionPolicy(opts.Stream.Retention); err != nil {
		return nil, err
	}
	switch opts.Format {
	case "":
		opts.Format = FormatProto
	case FormatProto, FormatJSON:
	default:
		return nil, fmt.Errorf("feed: unknown NATS payload format %q (want %s or %s)", opts.Format, FormatProto, FormatJSON)
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 1024
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 5 * time.Second
	}
	if opts.RetryWait <= 0 {
		opts.RetryWait = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := opts.DB.Cursor(opts.Cursor)
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	p := &Publisher{opts: opts, conv: newConverter(opts.DB), saved: c}
	p.cursor.Store(uint64(c))
	opts.Metrics.setPublisher(p)
	return p, nil
}

func retentionPolicy(s string) (jetstream.RetentionPolicy, error) {
	switch s {
	case "", "limits":
		return jetstream.LimitsPolicy, nil
	case "interest":
		return jetstream.InterestPolicy, nil
	case "workqueue":
		return jetstream.WorkQueuePolicy, nil
	}
	return 0, fmt.Errorf("feed: unknown stream retention %q (want limits, interest or workqueue)", s)
}

// Cursor returns the last seq JetStream acknowledged (with all before it).
func (p *Publisher) Cursor() engine.Seq { return engine.Seq(p.cursor.Load()) }

// Err returns the error of the last failed attempt, nil once publishing
// works again.
func (p *Publisher) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// Run publishes until ctx ends, starting over from the cursor after every
// failure. It saves the cursor before it returns.
func (p *Publisher) Run(ctx context.Context) error {
	for {
		err := p.session(ctx)
		if ctx.Err() != nil {
			return p.save()
		}
		p.setErr(err)
		p.opts.Metrics.publishError()
		p.opts.Logger.Warn("nats: publishing paused; retrying from the cursor",
			"err", err, "cursor", p.Cursor(), "lag", uint64(p.opts.DB.Head())-min(uint64(p.opts.DB.Head()), uint64(p.Cursor())))
		if err := p.save(); err != nil {
			p.opts.Logger.Error("nats: save cursor", "err", err)
		}
		t := time.NewTimer(p.opts.RetryWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return p.save()
		case <-t.C:
		}
	}
}

func (p *Publisher) setErr(err error) {
	p.mu.Lock()
	if err == nil && p.lastErr != nil {
		p.opts.Logger.Info("nats: publishing resumed", "cursor", p.Cursor())
	}
	p.lastErr = err
	p.failing.Store(err != nil)
	p.mu.Unlock()
}

// save writes the cursor file when the cursor moved.
func (p *Publisher) save() error {
	c := p.Cursor()
	if c == p.saved {
		return nil
	}
	if err := p.opts.DB.SetCursor(p.opts.Cursor, c); err != nil {
		return err
	}
	p.saved = c
	return nil
}

// ensureStream creates the stream when it is missing.
func (p *Publisher) ensureStream(ctx context.Context, js jetstream.JetStream) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.AckTimeout)
	defer cancel()
	_, err := js.Stream(ctx, p.opts.Stream.Name)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("nats: look up stream %s: %w", p.opts.Stream.Name, err)
	}
	ret, _ := retentionPolicy(p.opts.Stream.Retention)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       p.opts.Stream.Name,
		Subjects:   []string{SubjectPrefix + ".>"},
		Retention:  ret,
		Replicas:   p.opts.Stream.Replicas,
		MaxAge:     p.opts.Stream.MaxAge,
		Duplicates: p.opts.Stream.Duplicates,
		Storage:    jetstream.FileStorage,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("nats: create stream %s: %w", p.opts.Stream.Name, err)
	}
	p.opts.Logger.Info("nats: created stream", "stream", p.opts.Stream.Name, "subjects", SubjectPrefix+".>")
	return nil
}

// inflight is a publish awaiting its acknowledgement; f is nil for an
// event that is not published (account events), which is done at once.
type inflight struct {
	seq engine.Seq
	f   jetstream.PubAckFuture
}

// session publishes from the cursor on until ctx ends or a publish fails.
func (p *Publisher) session(ctx context.Context) error {
	js, err := jetstream.New(p.opts.Conn, jetstream.WithPublishAsyncTimeout(p.opts.AckTimeout),
		jetstream.WithPublishAsyncMaxPending(p.opts.MaxInFlight+1))
	if err != nil {
		return fmt.Errorf("nats: jetstream: %w", err)
	}
	defer js.CleanupPublisher()
	if err := p.ensureStream(ctx, js); err != nil {
		return err
	}
	var pending []inflight
	next := p.Cursor() + 1
	for {
		head, last, err := p.publishChunk(ctx, js, next, &pending)
		if err != nil {
			return err
		}
		if last != 0 {
			next = last + 1
			continue
		}
		// Caught up: wait for every acknowledgement, then for new events.
		for len(pending) > 0 {
			if err := p.ackOldest(ctx, &pending); err != nil {
				return err
			}
		}
		if err := p.save(); err != nil {
			return err
		}
		p.setErr(nil)
		if _, err := p.opts.DB.Wait(ctx, head); err != nil {
			return err
		}
	}
}

// publishChunk publishes up to readChunk events from next on; last is the
// seq of the last one, 0 when there was nothing after head.
func (p *Publisher) publishChunk(ctx context.Context, js jetstream.JetStream, next engine.Seq, pending *[]inflight) (head, last engine.Seq, err error) {
	v, err := p.opts.DB.View()
	if err != nil {
		return 0, 0, err
	}
	defer v.Close()
	head = v.Head()
	if next > head {
		return head, 0, nil
	}
	maxBody := int(p.opts.Conn.MaxPayload()) - 64<<10
	n := 0
	for ev, err := range v.Log(next) {
		if err != nil {
			return 0, 0, err
		}
		f, err := p.publish(js, v, ev, maxBody)
		if err != nil {
			return 0, 0, err
		}
		*pending = append(*pending, inflight{seq: ev.Seq, f: f})
		last = ev.Seq
		if err := p.reap(ctx, pending); err != nil {
			return 0, 0, err
		}
		if n++; n == readChunk {
			break
		}
	}
	if last == 0 {
		last = head // compacted away: nothing to publish up to head
		*pending = append(*pending, inflight{seq: head})
	}
	return head, last, nil
}

// publish sends one event; it returns a nil future for an event that is
// not published.
func (p *Publisher) publish(js jetstream.JetStream, v *engine.View, ev *engine.Event, maxBody int) (jetstream.PubAckFuture, error) {
	ch, err := p.conv.change(v, ev, p.opts.IncludeBody, max(maxBody, 1))
	if err != nil || ch == nil {
		return nil, err
	}
	var data []byte
	if p.opts.Format == FormatJSON {
		data, err = protojson.Marshal(ch)
	} else {
		data, err = proto.Marshal(ch)
	}
	if err != nil {
		return nil, fmt.Errorf("nats: encode change %d: %w", ev.Seq, err)
	}
	msg := &nats.Msg{Subject: Subject(ch), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, strconv.FormatUint(uint64(ev.Seq), 10))
	f, err := js.PublishMsgAsync(msg)
	if err != nil {
		return nil, fmt.Errorf("nats: publish change %d: %w", ev.Seq, err)
	}
	return f, nil
}

// reap advances the cursor over the acknowledged prefix of pending and
// waits for the oldest publish while MaxInFlight are outstanding.
func (p *Publisher) reap(ctx context.Context, pending *[]inflight) error {
	for len(*pending) > 0 {
		head := (*pending)[0]
		if head.f == nil {
			p.ack(pending, 0)
			continue
		}
		select {
		case <-head.f.Ok():
			p.ack(pending, 1)
			continue
		case err := <-head.f.Err():
			return fmt.Errorf("nats: publish change %d: %w", head.seq, err)
		default:
		}
		if len(*pending) < p.opts.MaxInFlight {
			return nil
		}
		if err := p.ackOldest(ctx, pending); err != nil {
			return err
		}
	}
	return nil
}

// ackOldest waits for the oldest publish of pending.
func (p *Publisher) ackOldest(ctx context.Context, pending *[]inflight) error {
	head := (*pending)[0]
	if head.f == nil {
		p.ack(pending, 0)
		return nil
	}
	select {
	case <-head.f.Ok():
		p.ack(pending, 1)
		return nil
	case err := <-head.f.Err():
		return fmt.Errorf("nats: publish change %d: %w", head.seq, err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ack removes the oldest entry of pending and moves the cursor to it;
// the cursor file is written every readChunk seqs and when caught up.
func (p *Publisher) ack(pending *[]inflight, published int) {
	seq := (*pending)[0].seq
	*pending = (*pending)[1:]
	p.cursor.Store(uint64(seq))
	p.opts.Metrics.publishedN(published)
	if published > 0 && p.failing.Load() {
		p.setErr(nil)
	}
	if seq-p.saved >= readChunk*4 {
		if err := p.save(); err != nil {
			p.opts.Logger.Error("nats: save cursor", "err", err)
		}
	}
}

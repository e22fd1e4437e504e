package feed

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"

	"github.com/almanac/almanac/change"
	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Subscription tuning.
const (
	// readChunk is how many log events one view reads before it is closed,
	// so a slow subscriber never pins an old snapshot for long.
	readChunk = 1024
	// maxSendBatch and maxSendBytes bound one SubscribeResponse.
	maxSendBatch = 512
	maxSendBytes = 1 << 20
)

// subscription is one Subscribe call: a reader (the handler goroutine)
// reads the log from a cursor into a bounded queue; a sender goroutine
// takes changes from the queue and writes them to the stream. Neither ever
// touches the engine's writer: the log is read from durable snapshots.
type subscription struct {
	s      *Server
	id     uint64
	who    Principal
	filter change.Filter
	body   bool
	q      chan *feedv1.Change

	scanned atomic.Uint64 // the reader has read the log up to here
	taken   atomic.Uint64 // the sender has taken changes up to here
	sent    atomic.Uint64 // seq of the last change written to the stream
	idle    atomic.Uint64 // read up to here with nothing left to send (for the lag metric)
}

var subscriptionIDs atomic.Uint64

// Subscribe streams the changes from req.FromSeq on that the caller may
// read and the request selects: history first, then live, with no gap and
// no duplicate at the hand-over (the reader reads the log to a view's head
// and then waits for the head to pass exactly that seq).
func (s *Server) Subscribe(req *feedv1.SubscribeRequest, stream grpc.ServerStreamingServer[feedv1.SubscribeResponse]) error {
	who, err := caller(stream.Context())
	if err != nil {
		return err
	}
	if req.GetPrincipal() != "" && !who.Admin && req.GetPrincipal() != who.Name {
		return status.Errorf(codes.PermissionDenied, "user %q may not subscribe to principal %q", who.Name, req.GetPrincipal())
	}
	sub := &subscription{
		s:      s,
		id:     subscriptionIDs.Add(1),
		who:    who,
		filter: newFilter(who, req),
		body:   req.GetIncludeBody(),
		q:      make(chan *feedv1.Change, s.opts.SendBuffer),
	}
	from := max(req.GetFromSeq(), 1)
	sub.scanned.Store(from - 1)
	sub.taken.Store(from - 1)
	sub.sent.Store(from - 1)
	s.opts.Metrics.addSubscription(sub)
	defer s.opts.Metrics.removeSubscription(sub)

	ctx, cancel := context.WithCancel(stream.Context())
	// The sender may still be inside Send when a cut-off returns here;
	// returning finishes the stream, which makes that Send fail at once.
	defer cancel()
	go sub.send(ctx, cancel, stream)
	s.opts.Logger.Debug("feed: subscriber started", "id", sub.id, "user", who.Name, "from", from)
	err = sub.read(ctx, engine.Seq(from))
	s.opts.Logger.Debug("feed: subscriber ended", "id", sub.id, "user", who.Name, "err", err)
	if stream.Context().Err() != nil {
		return status.FromContextError(stream.Context().Err()).Err()
	}
	return grpcError(err)
}

// read reads the log from next on, forever, pushing every change that
// matches into the queue.
func (sub *subscription) read(ctx context.Context, next engine.Seq) error {
	db := sub.s.opts.DB
	live := false
	for {
		batch, head, last, err := sub.readChunk(next)
		if err != nil {
			return err
		}
		if last == 0 { // nothing to read: caught up with the head
			live = true
			if _, err := db.Wait(ctx, head); err != nil {
				return err
			}
			continue
		}
		next = last + 1
		for _, ch := range batch {
			if err := sub.push(ctx, ch, live); err != nil {
				return err
			}
		}
		sub.scanned.Store(uint64(last))
		if len(sub.q) == 0 {
			advance(&sub.idle, uint64(last))
		}
	}
}

// readChunk reads up to readChunk events from next on through one view.
// last is the seq of the last event read, 0 when the log ends before next;
// head is the view's head.
func (sub *subscription) readChunk(next engine.Seq) (batch []*feedv1.Change, head, last engine.Seq, err error) {
	v, err := sub.s.opts.DB.View()
	if err != nil {
		return nil, 0, 0, err
	}
	defer v.Close()
	head = v.Head()
	if next > head {
		return nil, head, 0, nil
	}
	// A user reads the indexes of what they may read (their collections,
	// the collections shared with them, the homes they are a delegate
	// of, as this view says: a revoked share is not followed) instead of
	// everyone's log; an admin reads the log.
	events := v.Log(next)
	if !sub.who.Admin {
		events = v.ReadableLog(sub.who.Name, next)
	}
	n := 0
	for ev, err := range events {
		if err != nil {
			return nil, 0, 0, err
		}
		ch, err := sub.s.conv.Change(v, ev, sub.body, 0)
		if err != nil {
			return nil, 0, 0, err
		}
		if ch != nil && sub.filter.Match(ch) {
			batch = append(batch, ch)
		}
		last = ev.Seq
		if n++; n == readChunk {
			return batch, head, last, nil
		}
	}
	// Read to the head (the records from the last one to head, if any,
	// are someone else's, or gone by log compaction).
	return batch, head, head, nil
}

// push queues ch. While replaying history it waits for room: the client
// reads at its own pace. Once live, a full queue is waited on only while
// the head stays within MaxLag events of the last change the client took;
// beyond that the subscriber is cut off.
func (sub *subscription) push(ctx context.Context, ch *feedv1.Change, live bool) error {
	select {
	case sub.q <- ch:
		return nil
	default:
	}
	if !live {
		select {
		case sub.q <- ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	seen := engine.Seq(sub.scanned.Load())
	for {
		wctx, cancel := context.WithCancel(ctx)
		heads := make(chan waitResult, 1)
		go func() {
			h, err := sub.s.opts.DB.Wait(wctx, seen)
			heads <- waitResult{h, err}
		}()
		select {
		case sub.q <- ch:
			cancel()
			return nil
		case r := <-heads:
			cancel()
			if r.err != nil {
				return r.err
			}
			seen = r.head
			if uint64(seen) > sub.taken.Load()+uint64(sub.s.opts.MaxLag) {
				return sub.cutOff(seen)
			}
		case <-ctx.Done():
			cancel()
			return ctx.Err()
		}
	}
}

type waitResult struct {
	head engine.Seq
	err  error
}

// errSlowConsumer marks the cut-off of a subscriber that fell behind.
var errSlowConsumer = errors.New("feed: slow consumer")

func (sub *subscription) cutOff(head engine.Seq) error {
	sub.s.opts.Logger.Warn("feed: slow subscriber cut off", "id", sub.id, "user", sub.who.Name,
		"head", head, "sent", sub.sent.Load(), "max_lag", sub.s.opts.MaxLag)
	sub.s.opts.Metrics.cutOff()
	return status.Errorf(codes.ResourceExhausted,
		"%v: more than %d events behind the head (%d) with %d changes waiting; "+
			"resubscribe with from_seq = the seq of the last change you received + 1 (last sent: %d)",
		errSlowConsumer, sub.s.opts.MaxLag, head, sub.s.opts.SendBuffer, sub.sent.Load())
}

// send writes queued changes to the stream, batching those already
// waiting, until ctx ends or a Send fails (then it cancels the reader).
func (sub *subscription) send(ctx context.Context, cancel context.CancelFunc, stream grpc.ServerStreamingServer[feedv1.SubscribeResponse]) {
	defer cancel()
	for {
		var first *feedv1.Change
		select {
		case first = <-sub.q:
		case <-ctx.Done():
			return
		}
		batch := []*feedv1.Change{first}
		size := approxSize(first)
	fill:
		for len(batch) < maxSendBatch && size < maxSendBytes {
			select {
			case ch := <-sub.q:
				batch = append(batch, ch)
				size += approxSize(ch)
			default:
				break fill
			}
		}
		last := batch[len(batch)-1].Seq
		sub.taken.Store(last)
		if ctx.Err() != nil {
			return
		}
		if err := stream.Send(&feedv1.SubscribeResponse{Changes: batch}); err != nil {
			sub.s.opts.Logger.Debug("feed: send failed", "id", sub.id, "err", err)
			return
		}
		advance(&sub.sent, last)
	}
}

// approxSize estimates a change's encoded size without encoding it.
func approxSize(ch *feedv1.Change) int {
	return 256 + len(ch.Body) + len(ch.Collection) + len(ch.Object) + len(ch.Uid) + len(ch.UserAgent)
}

// advance raises a to v unless it is already higher.
func advance(a *atomic.Uint64, v uint64) {
	for {
		cur := a.Load()
		if cur >= v || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// lag is how many events the subscriber is behind head.
func (sub *subscription) lag(head engine.Seq) uint64 {
	sent := max(sub.sent.Load(), sub.idle.Load())
	if uint64(head) <= sent {
		return 0
	}
	return uint64(head) - sent
}

// label names the subscription in metrics: its id only, since /metrics
// needs no credentials. The id is in the subscriber's debug logs beside
// the user name.
func (sub *subscription) label() string {
	return strconv.FormatUint(sub.id, 10)
}

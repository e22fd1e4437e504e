package feed

import (
	"context"
	"fmt"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// A publishing session starts after the last change the stream stores (or
// after the cursor, see resume) and runs until a publish fails or Run
// ends; the next one starts over the same way. Two goroutines share it:
// run reads the log and publishes each change without waiting for earlier
// acknowledgements, holding one of MaxInFlight slots per change; ackLoop
// takes the changes in seq order, waits for each acknowledgement, moves the
// cursor and frees the slot. The first error or ack timeout ends the
// session. How the stream keeps the log's order is in the package
// documentation (# NATS): no reconnect buffer, the expected last sequence
// and message ID on every publish once the session knows the stream's
// tail, and synchronous publishes until then.
type session struct {
	p      *Publisher
	js     jetstream.JetStream
	stream jetstream.Stream

	acks  chan inflight // published, in seq order, for ackLoop
	slots chan struct{} // one per entry in acks or in ackLoop's hands

	// guarded is set once the session knows the stream's tail (resume) or
	// got a change stored: expect is then the stream sequence of the last
	// message stored or published and lastID that message's Nats-Msg-Id.
	// Owned by run.
	guarded bool
	expect  uint64
	lastID  string
}

// inflight is a published change awaiting its acknowledgement. f is nil
// when there is nothing to wait for: an event that is not published
// (account events), or a change acknowledged synchronously.
type inflight struct {
	seq       engine.Seq
	f         jetstream.PubAckFuture
	m         *outMsg // what f publishes
	published bool    // counts as published once acknowledged
}

// session publishes from the cursor on until ctx ends or a publish fails.
func (p *Publisher) session(ctx context.Context) error {
	js, err := jetstream.New(p.opts.Conn, jetstream.WithPublishAsyncTimeout(p.opts.AckTimeout),
		jetstream.WithPublishAsyncMaxPending(p.opts.MaxInFlight))
	if err != nil {
		return fmt.Errorf("nats: jetstream: %w", err)
	}
	defer js.CleanupPublisher()
	st, err := p.ensureStream(ctx, js)
	if err != nil {
		return err
	}
	s := &session{
		p:      p,
		js:     js,
		stream: st,
		acks:   make(chan inflight, p.opts.MaxInFlight),
		slots:  make(chan struct{}, p.opts.MaxInFlight),
	}
	next, err := s.resume(ctx)
	if err != nil {
		return err
	}
	sctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	acked := make(chan struct{})
	go func() { defer close(acked); s.ackLoop(sctx, fail) }()
	fail(s.run(sctx, next))
	<-acked
	return context.Cause(sctx)
}

// run publishes the log from next on; it returns only with an error
// (ctx's when ackLoop failed the session).
func (s *session) run(ctx context.Context, next engine.Seq) error {
	db := s.p.opts.DB
	for {
		head, last, err := s.publishChunk(ctx, next)
		if err != nil {
			return err
		}
		if last != 0 {
			next = last + 1
			continue
		}
		if len(s.slots) == 0 && s.p.failing.Load() {
			s.p.setErr(nil) // caught up with everything acknowledged
		}
		if _, err := db.Wait(ctx, head); err != nil {
			return err
		}
	}
}

// publishChunk publishes up to readChunk events from next on through one
// view; last is the seq of the last one, 0 when there was nothing after
// head.
func (s *session) publishChunk(ctx context.Context, next engine.Seq) (head, last engine.Seq, err error) {
	v, err := s.p.opts.DB.View()
	if err != nil {
		return 0, 0, err
	}
	defer v.Close()
	head = v.Head()
	if next > head {
		return head, 0, nil
	}
	maxBody := int(s.p.opts.Conn.MaxPayload()) - 64<<10
	n := 0
	for ev, err := range v.Log(next) {
		if err != nil {
			return 0, 0, err
		}
		if ev.Op == engine.OpContentPurged && len(ev.PurgedSeqs) > 0 {
			if err := s.erasePurged(ctx, v, ev); err != nil {
				return 0, 0, err
			}
		}
		if err := s.publish(ctx, v, ev, maxBody); err != nil {
			return 0, 0, err
		}
		last = ev.Seq
		if n++; n == readChunk {
			break
		}
	}
	if last == 0 {
		// Compacted away: nothing to publish up to head.
		last = head
		if err := s.enqueue(ctx, inflight{seq: head}); err != nil {
			return 0, 0, err
		}
	}
	return head, last, nil
}

// publish sends the change of ev and queues it for ackLoop once it has a
// slot.
func (s *session) publish(ctx context.Context, v *engine.View, ev *engine.Event, maxBody int) error {
	m, err := s.p.message(v, ev, maxBody)
	if err != nil {
		return err
	}
	if m == nil {
		return s.enqueue(ctx, inflight{seq: ev.Seq})
	}
	if err := s.takeSlot(ctx); err != nil {
		return err
	}
	in := inflight{seq: ev.Seq, m: m, published: true}
	if !s.guarded {
		// Until the broker stores one of the session's changes (it drops
		// the first ones as duplicates when they are in the stream
		// already), the session does not know the sequence to expect.
		pctx, cancel := context.WithTimeout(ctx, s.p.opts.AckTimeout)
		ack, err := s.js.PublishMsg(pctx, m.Msg, jetstream.WithRetryAttempts(0))
		cancel()
		if err != nil {
			<-s.slots
			return s.p.rejected(ev.Seq, m, err)
		}
		if ack.Duplicate {
			if err := s.checkDuplicate(ctx, ev.Seq, m.Msg, ack.Sequence); err != nil {
				<-s.slots
				return err
			}
		} else {
			s.guarded, s.expect, s.lastID = true, ack.Sequence, m.Header.Get(jetstream.MsgIDHeader)
		}
	} else {
		in.f, err = s.js.PublishMsgAsync(m.Msg, jetstream.WithRetryAttempts(0),
			jetstream.WithExpectLastSequence(s.expect), jetstream.WithExpectLastMsgID(s.lastID))
		if err != nil {
			<-s.slots
			return s.p.rejected(ev.Seq, m, err)
		}
		s.expect, s.lastID = s.expect+1, m.Header.Get(jetstream.MsgIDHeader)
	}
	s.acks <- in
	return nil
}

// enqueue queues an entry with nothing to wait for once it has a slot.
func (s *session) enqueue(ctx context.Context, in inflight) error {
	if err := s.takeSlot(ctx); err != nil {
		return err
	}
	s.acks <- in
	return nil
}

// takeSlot waits until fewer than MaxInFlight entries are outstanding and
// takes a slot; ackLoop frees it.
func (s *session) takeSlot(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// message encodes the change of ev; nil for an event that is not
// published. A change that can never be published (its subject is longer
// than MaxSubjectLen, or it is larger than the server's max payload even
// without the body) and one an override says so of becomes a dead letter.
func (p *Publisher) message(v *engine.View, ev *engine.Event, maxBody int) (*outMsg, error) {
	ov := p.override(ev.Seq)
	if ov.dead != "" {
		return p.deadLetter(ev.Seq, ov), nil
	}
	ch, err := p.conv.Change(v, ev, p.opts.IncludeBody, max(maxBody, 1))
	if err != nil || ch == nil {
		return nil, err
	}
	if ov.noBody && len(ch.Body) > 0 {
		ch.Body, ch.BodyOmitted = nil, true
	}
	subject := Subject(ch)
	if len(subject) > MaxSubjectLen {
		return p.skip(ev.Seq, fmt.Sprintf("subject of %d bytes, over %d", len(subject), MaxSubjectLen)), nil
	}
	data, err := p.encode(ch)
	if err != nil {
		return nil, err
	}
	limit := int(p.opts.Conn.MaxPayload()) - headerRoom
	if len(data) > limit && len(ch.Body) > 0 {
		ch.Body, ch.BodyOmitted = nil, true
		if data, err = p.encode(ch); err != nil {
			return nil, err
		}
	}
	if len(data) > limit {
		return p.skip(ev.Seq, fmt.Sprintf("%d bytes without the body, over the server's max payload", len(data))), nil
	}
	return &outMsg{Msg: p.newMsg(subject, data, ev.Seq, ov), body: len(ch.Body) > 0}, nil
}

func (p *Publisher) encode(ch *feedv1.Change) ([]byte, error) {
	var data []byte
	var err error
	if p.opts.Format == FormatJSON {
		data, err = protojson.Marshal(ch)
	} else {
		data, err = proto.Marshal(ch)
	}
	if err != nil {
		return nil, fmt.Errorf("nats: encode change %d: %w", ch.Seq, err)
	}
	return data, nil
}

// ackLoop waits for the acknowledgements in seq order and moves the cursor
// over them; the first failure ends the session through fail.
func (s *session) ackLoop(ctx context.Context, fail context.CancelCauseFunc) {
	for {
		var in inflight
		select {
		case in = <-s.acks:
		case <-ctx.Done():
			return
		}
		if in.f != nil {
			select {
			case ack := <-in.f.Ok():
				if ack.Duplicate {
					if err := s.checkDuplicate(ctx, in.seq, in.m.Msg, ack.Sequence); err != nil {
						fail(err)
						return
					}
				}
			case err := <-in.f.Err():
				fail(s.p.rejected(in.seq, in.m, err))
				return
			case <-ctx.Done():
				return
			}
		}
		s.p.ack(in)
		<-s.slots
	}
}

// ack moves the cursor to an acknowledged entry, and asks the saver to
// store it when it ran saveEvery seqs ahead.
func (p *Publisher) ack(in inflight) {
	if in.published {
		p.progress.Store(true)
		p.opts.Metrics.publishedN(1)
		if p.failing.Load() {
			p.setErr(nil)
		}
	}
	p.cursor.Store(uint64(in.seq))
	if p.anyOverrides.Load() {
		p.dropOverrides(in.seq)
	}
	if uint64(in.seq)-p.saved.Load() >= saveEvery {
		select {
		case p.saveNow <- struct{}{}:
		default:
		}
	}
}

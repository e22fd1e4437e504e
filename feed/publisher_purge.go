package feed

import (
	"context"
	"errors"
	"fmt"

	"github.com/almanac/almanac/engine"
	"github.com/nats-io/nats.go/jetstream"
)

// purgeFetch is how many message headers one pull of the purge scan asks
// for.
const purgeFetch = 256

// erasePurged erases from the stream the messages of the changes a purge
// erased (ev.PurgedSeqs), before the purge's own change is published: the
// log no longer holds those bodies, and the stream must not either (GDPR
// erasure). It waits until every earlier change is acknowledged (so all of
// them are stored), reads the headers of the messages on the subjects of
// the erased changes with an ordered consumer, and deletes each message
// whose Nats-Msg-Id names an erased seq with JetStream's secure delete,
// which overwrites the message's bytes in the store. The publisher's NATS
// user needs CONSUMER.CREATE and STREAM.MSG.DELETE on the stream (the
// embedded server's has them); an error ends the session like a failed
// publish, so the purge's change is not published until the erasure
// succeeded.
func (s *session) erasePurged(ctx context.Context, v *engine.View, ev *engine.Event) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	purged := make(map[engine.Seq]bool, len(ev.PurgedSeqs))
	subjects := map[string]bool{}
	for _, seq := range ev.PurgedSeqs {
		purged[seq] = true
		e, err := v.Event(seq)
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		ch, err := s.p.conv.Change(v, e, false, 0)
		if err != nil {
			return err
		}
		if ch == nil {
			continue
		}
		if subj := Subject(ch); len(subj) <= MaxSubjectLen {
			subjects[subj] = true
		}
	}
	if len(subjects) == 0 {
		return nil
	}
	filter := make([]string, 0, len(subjects))
	for subj := range subjects {
		filter = append(filter, subj)
	}
	cctx, cancel := context.WithTimeout(ctx, s.p.opts.AckTimeout)
	defer cancel()
	cons, err := s.stream.OrderedConsumer(cctx, jetstream.OrderedConsumerConfig{FilterSubjects: filter, HeadersOnly: true})
	if err != nil {
		return fmt.Errorf("nats: purge %d: scan the stream: %w", ev.Seq, err)
	}
	var doomed []uint64
	for done := false; !done; {
		batch, err := cons.FetchNoWait(purgeFetch)
		if err != nil {
			return fmt.Errorf("nats: purge %d: scan the stream: %w", ev.Seq, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("nats: purge %d: %w", ev.Seq, err)
			}
			if seq, ok := MsgSeq(m.Headers().Get(jetstream.MsgIDHeader)); ok && purged[seq] {
				doomed = append(doomed, md.Sequence.Stream)
			}
			done = md.NumPending == 0
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return fmt.Errorf("nats: purge %d: scan the stream: %w", ev.Seq, err)
		}
		done = done || n == 0
	}
	for _, sseq := range doomed {
		dctx, cancel := context.WithTimeout(ctx, s.p.opts.AckTimeout)
		err := s.stream.SecureDeleteMsg(dctx, sseq)
		cancel()
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("nats: purge %d: erase stream message %d: %w", ev.Seq, sseq, err)
		}
	}
	s.p.opts.Logger.Info("nats: purge erased its changes from the stream", "seq", ev.Seq, "messages", len(doomed))
	return nil
}

// drain waits until every change the session published is acknowledged.
func (s *session) drain(ctx context.Context) error {
	for range cap(s.slots) {
		if err := s.takeSlot(ctx); err != nil {
			return err
		}
	}
	for range cap(s.slots) {
		<-s.slots
	}
	return nil
}

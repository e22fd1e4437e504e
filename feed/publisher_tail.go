package feed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/nats-io/nats.go/jetstream"
)

// Duplicate windows (StreamConfig.Duplicates).
const (
	// DefaultDuplicates is the duplicate window of a limits stream the
	// publisher creates. A session resumes after the last change the
	// stream stores (session.resume), so re-sends are not what the window
	// is for; it covers only a session that cannot find its last change
	// (see the package documentation) and costs the broker ~100 bytes per
	// message published within it.
	DefaultDuplicates = time.Second
	// DefaultDuplicatesConsumed is the window of an interest or workqueue
	// stream, whose consumers remove messages: its last change is often
	// gone, and the next session relies on the window as before.
	DefaultDuplicatesConsumed = 10 * time.Minute
	// oldDefaultDuplicates is the window versions before DefaultDuplicates
	// gave every stream; a limits stream created with it is updated.
	oldDefaultDuplicates = 10 * time.Minute
)

// tailScan bounds how many messages of others resume reads back from the
// stream's last one to find the publisher's last change.
const tailScan = 64

// resume finds where the session starts: after the last change the stream
// stores when it can find it, otherwise after the cursor. It sets the
// session's expectations when it knows the stream's tail, and moves the
// cursor to a change found there (forward after a crash lost the last
// cursor saves, back when the broker lost acknowledged messages).
//
// It finds the change at the stream's last sequence, or behind up to
// tailScan messages others published after it, signed by the publisher
// (SigHeader); an empty stream holds nothing to repeat. A missing message
// on the way (deleted, consumed) or a stream of others' messages ends the
// search: the session then starts after the cursor without expectations,
// as before, and the duplicate window drops what it re-sends within it.
func (s *session) resume(ctx context.Context) (engine.Seq, error) {
	p := s.p
	cursor := p.Cursor()
	rctx, cancel := context.WithTimeout(ctx, p.opts.AckTimeout)
	defer cancel()
	info, err := s.stream.Info(rctx)
	if err != nil {
		return 0, fmt.Errorf("nats: stream %s: %w", p.opts.Stream.Name, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		// Nothing stored (a new stream, a purged one, an interest stream
		// without consumers): no change can be repeated; the cursor is
		// all there is to go by.
		s.guarded, s.expect, s.lastID = true, last, ""
		return cursor + 1, nil
	}
	lastID := ""
	for sseq := last; sseq >= info.State.FirstSeq && last-sseq < tailScan; sseq-- {
		m, err := s.stream.GetMsg(rctx, sseq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("nats: stream %s: read message %d: %w", p.opts.Stream.Name, sseq, err)
		}
		id := m.Header.Get(jetstream.MsgIDHeader)
		if sseq == last {
			lastID = id
		}
		seq, ok := MsgSeq(id)
		if !ok || !p.signed(m) {
			continue // someone else's
		}
		s.guarded, s.expect, s.lastID = true, last, lastID
		if seq != cursor {
			p.opts.Logger.Info("nats: resuming after the last change the stream stores", "seq", seq, "cursor", cursor,
				"stream_seq", sseq)
			p.cursor.Store(uint64(seq))
			p.dropOverrides(seq)
			select {
			case p.saveNow <- struct{}{}:
			default:
			}
		}
		return seq + 1, nil
	}
	p.opts.Logger.Warn("nats: the stream's last messages are not the publisher's; publishing again after the stored cursor "+
		"(the duplicate window drops what it already holds)", "cursor", cursor, "stream_last_seq", last)
	return cursor + 1, nil
}

// signed reports whether m carries the publisher's SigHeader for its
// Nats-Msg-Id.
func (p *Publisher) signed(m *jetstream.RawStreamMsg) bool {
	sig := m.Header.Get(SigHeader)
	return sig != "" && sig == p.sig(m.Header.Get(jetstream.MsgIDHeader))
}

// duplicates returns the duplicate window for a stream of retention ret.
func (c StreamConfig) duplicates(ret jetstream.RetentionPolicy) time.Duration {
	d := c.Duplicates
	if d <= 0 {
		d = DefaultDuplicates
		if ret != jetstream.LimitsPolicy {
			d = DefaultDuplicatesConsumed
		}
	}
	if c.MaxAge > 0 && d > c.MaxAge {
		d = c.MaxAge // nats-server refuses a window longer than MaxAge
	}
	return d
}

// shortenWindow updates a limits stream created with the old 10-minute
// duplicate window to the configured one. Without the permission (a
// stream on a NATS server of its own) it logs and goes on: the long window
// costs the broker memory, not correctness.
func (p *Publisher) shortenWindow(ctx context.Context, js jetstream.JetStream, st jetstream.Stream) jetstream.Stream {
	cfg := st.CachedInfo().Config
	want := p.opts.Stream.duplicates(cfg.Retention)
	if cfg.Retention != jetstream.LimitsPolicy || cfg.Duplicates != oldDefaultDuplicates || want >= cfg.Duplicates ||
		cfg.MaxAge > 0 && want > cfg.MaxAge {
		return st
	}
	cfg.Duplicates = want
	up, err := js.UpdateStream(ctx, cfg)
	if err != nil {
		p.opts.Logger.Warn("nats: could not shorten the stream's duplicate window (it keeps every message ID of "+
			"the last 10 minutes in the server's memory)", "stream", cfg.Name, "want", want, "err", err)
		return st
	}
	p.opts.Logger.Info("nats: shortened the stream's duplicate window", "stream", cfg.Name, "from", oldDefaultDuplicates, "to", want)
	return up
}

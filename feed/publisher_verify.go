package feed

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/almanac/almanac/engine"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errRestart ends a session so that the next one starts at once from the
// cursor: a change needs another form first (see override).
var errRestart = errors.New("nats: a change must be published in another form")

// nats-server error codes nats.go does not name.
const (
	errCodeHeaderTooLarge jetstream.ErrorCode = 10097 // JSStreamHeaderExceedsMaximumErr
)

// sig is the publisher's keyed hash of a Nats-Msg-Id (SigHeader).
func (p *Publisher) sig(msgID string) string {
	mac := hmac.New(sha256.New, p.opts.SigningKey)
	mac.Write([]byte(msgID))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

func (p *Publisher) override(seq engine.Seq) override {
	p.omu.Lock()
	defer p.omu.Unlock()
	return p.overrides[seq]
}

func (p *Publisher) setOverride(seq engine.Seq, fn func(*override)) {
	p.omu.Lock()
	ov := p.overrides[seq]
	fn(&ov)
	p.overrides[seq] = ov
	p.anyOverrides.Store(true)
	p.omu.Unlock()
}

// dropOverrides forgets the overrides of seqs up to the cursor.
func (p *Publisher) dropOverrides(cursor engine.Seq) {
	p.omu.Lock()
	for seq := range p.overrides {
		if seq <= cursor {
			delete(p.overrides, seq)
		}
	}
	p.anyOverrides.Store(len(p.overrides) > 0)
	p.omu.Unlock()
}

// outMsg is a message ready to publish.
type outMsg struct {
	*nats.Msg
	body bool // it carries the change's body
	dead bool // it is a dead letter
}

// newMsg returns the message of change seq with its Nats-Msg-Id (the seq,
// or the override's) and SigHeader.
func (p *Publisher) newMsg(subject string, data []byte, seq engine.Seq, ov override) *nats.Msg {
	id := ov.msgID
	if id == "" {
		id = strconv.FormatUint(uint64(seq), 10)
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, id)
	msg.Header.Set(SigHeader, p.sig(id))
	return msg
}

// skip reports, once per seq, a change that can never be published and
// returns its dead letter.
func (p *Publisher) skip(seq engine.Seq, reason string) *outMsg {
	first := false
	p.setOverride(seq, func(ov *override) { first = ov.dead == ""; ov.dead = reason })
	if first {
		p.opts.Logger.Error("nats: change can never be published; sending a dead letter to "+DeadLetterSubject+" instead",
			"seq", seq, "reason", reason)
		p.opts.Metrics.skippedOne()
	}
	return p.deadLetter(seq, p.override(seq))
}

func (p *Publisher) deadLetter(seq engine.Seq, ov override) *outMsg {
	data, _ := json.Marshal(DeadLetter{Seq: uint64(seq), Reason: ov.dead}) // cannot fail
	return &outMsg{Msg: p.newMsg(DeadLetterSubject, data, seq, ov), dead: true}
}

// rejected handles the broker's (or the client's) refusal of change seq's
// message m. A refusal that would repeat forever (the message is larger
// than the stream or the server allows) sets an override, first to
// publish the change without its body, then to send a dead letter, and
// returns errRestart; anything else is returned as it is. A dead letter
// that is refused too is left to the retries: there is nothing smaller.
func (p *Publisher) rejected(seq engine.Seq, m *outMsg, err error) error {
	err = fmt.Errorf("nats: publish change %d: %w", seq, err)
	var apiErr *jetstream.APIError
	permanent := errors.Is(err, nats.ErrMaxPayload) ||
		errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum || apiErr.ErrorCode == errCodeHeaderTooLarge)
	switch {
	case !permanent || m.dead:
		return err
	case m.body:
		p.opts.Logger.Warn("nats: change refused for its size; publishing it without the body", "seq", seq, "err", err)
		p.setOverride(seq, func(ov *override) { ov.noBody = true })
		return fmt.Errorf("%w: %w", errRestart, err)
	default:
		p.skip(seq, err.Error())
		return fmt.Errorf("%w: %w", errRestart, err)
	}
}

// checkDuplicate verifies the message JetStream holds at streamSeq, which
// it named when it answered the publish of m (change seq) as a duplicate.
// It returns nil when that message is the publisher's: its SigHeader is
// the hash of its Nats-Msg-Id under the publisher's key, or, for messages
// of versions before the header, subject and payload are m's. Otherwise
// the change is not in the stream: the publisher reports a forgery (error
// log and almanac_nats_forged_total), deletes it, and publishes the change
// under a fresh Nats-Msg-Id ("<seq>.<random>") in the next session
// (errRestart). A message gone since (a purge, the stream's limits) is
// published again the same way, with a warning.
func (s *session) checkDuplicate(ctx context.Context, seq engine.Seq, m *nats.Msg, streamSeq uint64) error {
	p := s.p
	gctx, cancel := context.WithTimeout(ctx, p.opts.AckTimeout)
	defer cancel()
	stored, err := s.stream.GetMsg(gctx, streamSeq)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		p.opts.Logger.Warn("nats: the message a change was a duplicate of is gone; publishing the change again",
			"seq", seq, "stream_seq", streamSeq)
	case err != nil:
		return fmt.Errorf("nats: read stream message %d (duplicate of change %d): %w", streamSeq, seq, err)
	case p.ours(stored, m):
		return nil
	default:
		p.opts.Logger.Error("nats: FORGED message in the stream: it holds the Nats-Msg-Id of a change but was not "+
			"published by almanac; deleting it and publishing the change under a fresh Nats-Msg-Id",
			"seq", seq, "stream_seq", streamSeq, "subject", stored.Subject, "msg_id", m.Header.Get(jetstream.MsgIDHeader))
		p.opts.Metrics.forgedOne()
		if err := s.stream.SecureDeleteMsg(gctx, streamSeq); err != nil {
			p.opts.Logger.Error("nats: could not delete the forged message", "stream_seq", streamSeq, "err", err)
		}
	}
	var r [8]byte
	_, _ = rand.Read(r[:])
	p.setOverride(seq, func(ov *override) { ov.msgID = fmt.Sprintf("%d.%x", seq, r) })
	return fmt.Errorf("%w: change %d: the stream's message %d with its Nats-Msg-Id is not the change", errRestart, seq, streamSeq)
}

// ours reports whether stored is the publisher's message m (or an earlier
// publish of the same Nats-Msg-Id).
func (p *Publisher) ours(stored *jetstream.RawStreamMsg, m *nats.Msg) bool {
	id := stored.Header.Get(jetstream.MsgIDHeader)
	if sig := stored.Header.Get(SigHeader); sig != "" {
		return id == m.Header.Get(jetstream.MsgIDHeader) && hmac.Equal([]byte(sig), []byte(p.sig(id)))
	}
	return stored.Subject == m.Subject && bytes.Equal(stored.Data, m.Data)
}

// MsgSeq returns the change seq of a message the publisher stored: its
// Nats-Msg-Id up to a '.' (a change published again under a fresh ID).
func MsgSeq(msgID string) (engine.Seq, bool) {
	if i := bytes.IndexByte([]byte(msgID), '.'); i >= 0 {
		msgID = msgID[:i]
	}
	n, err := strconv.ParseUint(msgID, 10, 64)
	return engine.Seq(n), err == nil
}

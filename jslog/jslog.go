// Package jslog is engine.SharedLog on a NATS JetStream stream: the log of
// a cluster of Almanac nodes. Each event is one message of the stream, and
// the stream's sequence numbers are the log's: gapless and ordered
// cluster-wide. A group of events is appended all or none with JetStream's
// atomic batch publish (the stream allows it, allow_atomic), its first
// message carrying Nats-Expected-Last-Sequence: the compare-and-set that
// makes If-Match, If-None-Match and UID uniqueness hold across nodes. A
// single event is a plain publish with the same header.
//
// Reads are batched direct gets (allow_direct), from any replica; a core
// subscription on the stream's subject wakes readers waiting for more. The
// store identity the nodes share (store id and secret) is a key of a
// JetStream key-value bucket, created once with compare-and-set.
//
// The stream is never truncated: no limits, deletes and purges denied.
// Replicas (R1, R3) and the servers' fsync policy (sync_interval: always
// in the servers Almanac embeds) decide what an acknowledgement means.
package jslog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure a Log.
type Options struct {
	// Stream is the name of the stream. Default DefaultStream.
	Stream string
	// Subject is the stream's one subject. Default "almanac.log".
	Subject string
	// Replicas is the stream's replica count: 1, or 3 in a cluster of
	// three. Default 1.
	Replicas int
	// MaxBatch is the most events one Append takes (the servers'
	// atomic batch limit, 1,000 by default). Default 1000.
	MaxBatch int
}

// DefaultStream is the log stream's name unless Options.Stream says
// otherwise.
const DefaultStream = "ALMANAC_LOG"

func (o *Options) ensureDefaults() {
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Subject == "" {
		o.Subject = "almanac.log"
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = 1000
	}
}

// Log is an engine.SharedLog on a JetStream stream. Its methods are safe
// for concurrent use.
type Log struct {
	opts Options
	nc   *nats.Conn
	js   jetstream.JetStream
	kv   jetstream.KeyValue
	sub  *nats.Subscription
	// getSubject is where reads ask: the stream's direct get subject.
	getSubject string
	// instance is random, this Log's own: the first part of its
	// appends' message ids.
	instance string

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a message is published
}

var _ engine.SharedLog = (*Log)(nil)

// dupWindow is how long the stream remembers an append's message id, to
// drop a retry of an append it stored: longer than a writer retries one
// append (the engine's 10 s), and short, because each server holds every
// id of the window in memory (one an append, some 100 bytes).
const dupWindow = 30 * time.Second

// identityKey is the key of the store identity in the bucket.
const identityKey = "identity"

// Open creates the stream and the identity bucket if they do not exist
// (or updates their configuration) and returns the Log on them. The caller
// keeps nc open until Close.
func Open(ctx context.Context, nc *nats.Conn, opts *Options) (*Log, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.ensureDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jslog: %w", err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:               o.Stream,
		Description:        "Almanac's event log: one message per event, stream sequence = event sequence",
		Subjects:           []string{o.Subject},
		Storage:            jetstream.FileStorage,
		Replicas:           o.Replicas,
		Retention:          jetstream.LimitsPolicy,
		MaxMsgs:            -1,
		MaxBytes:           -1,
		Discard:            jetstream.DiscardNew, // never drop the old: the log is not truncated
		DenyDelete:         true,
		DenyPurge:          true,
		AllowDirect:        true,
		AllowAtomicPublish: true,
		Duplicates:         dupWindow,
		// The bodies are in no other copy on a clustered node: S2 shrinks
		// each block of the log once it is full (8 MiB; the block being
		// written stays raw), on every replica. An older stream is updated
		// to it; its full blocks stay as they were.
		Compression: jetstream.S2Compression,
	})
	if err != nil {
		return nil, fmt.Errorf("jslog: stream %s: %w", o.Stream, err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      o.Stream + "_ID",
		Description: "the store identity the nodes of an Almanac log share",
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("jslog: identity bucket: %w", err)
	}
	var inst [12]byte
	if _, err := rand.Read(inst[:]); err != nil {
		return nil, fmt.Errorf("jslog: instance id: %w", err)
	}
	l := &Log{opts: o, nc: nc, js: js, kv: kv, changed: make(chan struct{}),
		getSubject: "$JS.API.DIRECT.GET." + o.Stream, instance: hex.EncodeToString(inst[:])}
	if l.sub, err = nc.Subscribe(o.Subject, func(*nats.Msg) { l.wake() }); err != nil {
		return nil, fmt.Errorf("jslog: subscribe %s: %w", o.Subject, err)
	}
	return l, nil
}

// Close stops waking readers; it leaves the connection open.
func (l *Log) Close() error {
	return l.sub.Unsubscribe()
}

func (l *Log) wake() {
	l.mu.Lock()
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// pubAck is the answer to a publish: an ack or an API error.
type pubAck struct {
	Error     *jetstream.APIError `json:"error,omitempty"`
	Seq       uint64              `json:"seq"`
	Count     int                 `json:"count"`
	Duplicate bool                `json:"duplicate,omitempty"`
}

// Header names of JetStream publishes (nats-server's stream.go).
const (
	hdrExpectedLastSeq = "Nats-Expected-Last-Sequence"
	hdrMsgID           = "Nats-Msg-Id"
	hdrBatchID         = "Nats-Batch-Id"
	hdrBatchSeq        = "Nats-Batch-Sequence"
	hdrBatchCommit     = "Nats-Batch-Commit"
)

// Append stores records as the messages after+1, … of the stream, all or
// none, if the stream's last sequence is after; otherwise it returns an
// *engine.LogConflictError.
//
// Append is idempotent: called again with the same after and records
// after an error (a lost ack, a timeout, a leader that died), it returns
// nil if the earlier call stored them, and stores them once. The first
// message carries a Nats-Msg-Id derived from this Log's instance, after
// and the records (msgID), and the stream drops a message whose id it
// stored within its duplicate window (dupWindow), answering that it is a
// duplicate. Compare-and-set decides before that: every attempt expects
// the same last sequence, so at most one of them is ever stored. The
// server checks the id before the expected sequence in a replicated
// stream and in an atomic batch, but after it for a single message on a
// lone server: there a retry of a stored message is a conflict, and the
// caller must compare what the log holds (the engine does).
func (l *Log) Append(ctx context.Context, after engine.Seq, records [][]byte) error {
	if len(records) == 0 {
		return nil
	}
	if len(records) > l.opts.MaxBatch {
		return fmt.Errorf("jslog: %d events in one append, over the atomic batch limit of %d", len(records), l.opts.MaxBatch)
	}
	var batch string
	if len(records) > 1 {
		// The batch id names this attempt, not the records: a retry
		// must not join what the server kept of an abandoned attempt.
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("jslog: batch id: %w", err)
		}
		batch = hex.EncodeToString(b[:])
	}
	var reply *nats.Msg
	for i, rec := range records {
		m := nats.NewMsg(l.opts.Subject)
		m.Data = rec
		if i == 0 {
			m.Header.Set(hdrExpectedLastSeq, strconv.FormatUint(uint64(after), 10))
			m.Header.Set(hdrMsgID, l.msgID(after, records))
		}
		if batch != "" {
			m.Header.Set(hdrBatchID, batch)
			m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		}
		if i < len(records)-1 {
			if err := l.nc.PublishMsg(m); err != nil {
				return fmt.Errorf("jslog: publish: %w", err)
			}
			continue
		}
		if batch != "" {
			m.Header.Set(hdrBatchCommit, "1")
		}
		var err error
		if reply, err = l.nc.RequestMsgWithContext(ctx, m); err != nil {
			return fmt.Errorf("jslog: publish: %w", err)
		}
	}
	var ack pubAck
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		return fmt.Errorf("jslog: publish: bad answer %q: %w", reply.Data, err)
	}
	if ack.Error != nil {
		switch ack.Error.ErrorCode {
		case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			return &engine.LogConflictError{Head: headOf(ack.Error.Description)}
		case errCodeBatchDuplicate:
			// The batch's first message is stored: an earlier attempt
			// stored the whole batch (atomic), and only at after+1, the
			// one place its compare-and-set allowed.
			return nil
		}
		return fmt.Errorf("jslog: publish: %w", ack.Error)
	}
	want := uint64(after) + uint64(len(records))
	if ack.Duplicate {
		// A single message stored by an earlier attempt, at after+1.
		want = uint64(after) + 1
	}
	if ack.Seq != want {
		return fmt.Errorf("jslog: publish: stored as %d, want %d", ack.Seq, want)
	}
	return nil
}

// errCodeBatchDuplicate is the server's error for an atomic batch holding
// a message whose Nats-Msg-Id the stream stored already
// (JSAtomicPublishContainsDuplicateMessageErr; nats.go has no constant).
// A message whose id is in a proposal not yet committed gets
// JSStreamDuplicateMessageConflict instead: the outcome is unknown yet,
// an error like a timeout.
const errCodeBatchDuplicate jetstream.ErrorCode = 10201

// msgID is the Nats-Msg-Id of the first message of an append of records
// after after: this Log's instance and a hash of the two. Another append
// (other records, another after, another node) never has it: the stream
// must not take one for another's duplicate.
func (l *Log) msgID(after engine.Seq, records [][]byte) string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(after))
	h.Write(n[:])
	for _, r := range records {
		binary.BigEndian.PutUint64(n[:], uint64(len(r)))
		h.Write(n[:])
		h.Write(r)
	}
	return l.instance + "-" + hex.EncodeToString(h.Sum(nil)[:16])
}

var wrongLastSeq = regexp.MustCompile(`wrong last sequence: (\d+)`)

// headOf reads the stream's last sequence from a "wrong last sequence: N"
// error; 0 when it does not say (replicated streams do not).
func headOf(desc string) engine.Seq {
	m := wrongLastSeq.FindStringSubmatch(desc)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return engine.Seq(n)
}

// directGet is a batched direct get request (nats-server's
// JSApiMsgGetRequest). NoHeaders asks for the payloads alone: the server
// then neither copies each message's stored headers nor adds its six own
// (stream, subject, sequence, time, pending, last), and the client parses
// none; they were half the CPU of a catch-up's reads (BenchmarkCatchUpNATS).
// The stream is gapless (deletes denied), so the records of one answer are
// from, from+1, …, and its end-of-batch status names the last one sent,
// which get checks.
type directGet struct {
	Seq       uint64 `json:"seq"`
	Batch     int    `json:"batch"`
	NoHeaders bool   `json:"no_hdr"`
}

// pollMin and pollMax bound how long a reader waits without a wake-up
// before it asks again, doubling from the first to the second: a replica
// serving direct gets may lag the publish it was woken for by a moment.
const (
	pollMin = time.Millisecond
	pollMax = 100 * time.Millisecond
)

// answerTimeout bounds the wait for each message of a direct get's
// answer. A request or its answer can be lost: the replica that took it
// dies (kill -9) or its route goes down, and nothing else ever answers
// that inbox. Without a bound a reader with no deadline of its own (the
// engine's follower) waits forever, and its node never sees another write.
const answerTimeout = 2 * time.Second

// errNoAnswer: a direct get was not answered within answerTimeout.
var errNoAnswer = errors.New("jslog: read: no answer")

// Read returns up to max records from from on, waiting until there is one
// at least or ctx ends. A request that goes unanswered is asked again.
func (l *Log) Read(ctx context.Context, from engine.Seq, max int) ([][]byte, error) {
	poll := pollMin
	for {
		l.mu.Lock()
		changed := l.changed
		l.mu.Unlock()
		recs, err := l.get(ctx, from, max)
		if errors.Is(err, errNoAnswer) && ctx.Err() == nil {
			continue // asked again at once: another replica may answer
		}
		if err != nil || len(recs) > 0 {
			return recs, err
		}
		t := time.NewTimer(poll)
		poll = min(2*poll, pollMax)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		t.Stop()
	}
}

// maxGet bounds the records one direct get asks for (and the answer's
// channel): a catch-up asks for 4,096 at a time.
const maxGet = 4096

// get asks for up to max records from from on; none when there is none.
func (l *Log) get(ctx context.Context, from engine.Seq, max int) ([][]byte, error) {
	max = min(max, maxGet)
	req, err := json.Marshal(directGet{Seq: uint64(from), Batch: max, NoHeaders: true})
	if err != nil {
		return nil, err
	}
	inbox := l.nc.NewRespInbox()
	// The answer is at most max messages and the end-of-batch status: a
	// channel that holds them all, not SubscribeSync's of 65,536 (half a
	// megabyte allocated and cleared for every read, a follower's every
	// poll: 7% of the CPU of the cluster catch-up benchmark). A server
	// that sent more would see them dropped, and the read would end
	// without an answer and be asked again.
	answer := make(chan *nats.Msg, max+1)
	sub, err := l.nc.ChanSubscribe(inbox, answer)
	if err != nil {
		return nil, fmt.Errorf("jslog: read: %w", err)
	}
	defer sub.Unsubscribe()
	if err := l.nc.PublishRequest(l.getSubject, inbox, req); err != nil {
		return nil, fmt.Errorf("jslog: read: %w", err)
	}
	recs := make([][]byte, 0, min(max, 64))
	timer := time.NewTimer(answerTimeout)
	defer timer.Stop()
	for {
		var m *nats.Msg
		select {
		case m = <-answer:
			timer.Reset(answerTimeout)
		case <-timer.C:
			return nil, fmt.Errorf("%w from %d within %s", errNoAnswer, from, answerTimeout)
		case <-ctx.Done():
			return nil, fmt.Errorf("jslog: read from %d: %w", from, ctx.Err())
		}
		if m.Header == nil {
			recs = append(recs, m.Data) // a record: no headers asked for
			continue
		}
		switch status := m.Header.Get("Status"); status {
		case "":
			// A record with headers (a server that ignores no_hdr).
			if seq, err := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64); err != nil || seq != uint64(from)+uint64(len(recs)) {
				return nil, fmt.Errorf("jslog: read from %d: got message %q, want %d", from, m.Header.Get("Nats-Sequence"), uint64(from)+uint64(len(recs)))
			}
			recs = append(recs, m.Data)
		case "204": // end of the batch, naming the last message sent
			last, err := strconv.ParseUint(m.Header.Get("Nats-Last-Sequence"), 10, 64)
			if want := uint64(from) + uint64(len(recs)) - 1; err != nil || len(recs) > 0 && last != want {
				return nil, fmt.Errorf("jslog: read from %d: %d messages, the last %q, want %d", from, len(recs), m.Header.Get("Nats-Last-Sequence"), want)
			}
			return recs, nil
		case "404": // nothing at from yet
			return recs, nil
		default:
			return nil, fmt.Errorf("jslog: read from %d: status %s %s", from, status, m.Header.Get("Description"))
		}
	}
}

// Head returns the stream's last sequence number: one STREAM.INFO
// request, answered by the stream's leader. js.Stream's answer is that
// info; asking the stream for its Info again was a second round trip to
// the leader on every write (dav syncs each write with the head first)
// and every probe of every node.
func (l *Log) Head(ctx context.Context) (engine.Seq, error) {
	s, err := l.js.Stream(ctx, l.opts.Stream)
	if err != nil {
		return 0, fmt.Errorf("jslog: %w", err)
	}
	info := s.CachedInfo()
	// A server that lost its peers may still answer as the stream's
	// leader for a while: a head it cannot append after is no head.
	if c := info.Cluster; c != nil && l.opts.Replicas > 1 {
		current := 0
		if c.Leader != "" {
			current++
		}
		for _, r := range c.Replicas {
			if r.Current && !r.Offline {
				current++
			}
		}
		if quorum := l.opts.Replicas/2 + 1; current < quorum {
			return 0, fmt.Errorf("jslog: the log has no quorum: %d of %d replicas current (leader %q)", current, l.opts.Replicas, c.Leader)
		}
	}
	return engine.Seq(info.State.LastSeq), nil
}

// Identity returns the identity in the bucket, putting proposed there if
// it has none. While the bucket's stream cannot answer (no leader yet, or
// an election: "no responders", "no response from stream", a request
// timed out) it asks again until ctx ends: a node starting beside its
// peers met that right after the log itself had answered, and failed its
// start (TestClusterPartition, session 19).
func (l *Log) Identity(ctx context.Context, proposed []byte) ([]byte, error) {
	for {
		_, err := l.kv.Create(ctx, identityKey, proposed)
		if err == nil {
			return proposed, nil
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			// Another node's Create won (or an earlier one of ours whose
			// answer was lost); the replica answering may not have it yet.
			e, gerr := l.kv.Get(ctx, identityKey)
			if gerr == nil {
				return e.Value(), nil
			}
			err = gerr
		}
		if !unanswered(err) && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("jslog: identity: %w", err)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return nil, fmt.Errorf("jslog: identity: %w", errors.Join(err, ctx.Err()))
		}
	}
}

// unanswered reports whether err says a JetStream request had no answer
// (no server took it, the stream has no leader, or it timed out), which
// asking again may change.
func unanswered(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
}

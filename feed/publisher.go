package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/almanac/almanac/change"
	"github.com/almanac/almanac/engine"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
// is missing, with S2 compression. An existing stream is used as it is
// (its compression too: `nats stream edit --compression s2`), except that a limits
// stream with the 10-minute duplicate window of earlier versions gets the
// configured (by default DefaultDuplicates) one.
type StreamConfig struct {
	// Name of the stream. Default "ALMANAC".
	Name string
	// Retention is "limits", "interest" or "workqueue". Default "limits".
	Retention string
	// Replicas is the number of copies in a cluster. Default 1.
	Replicas int
	// MaxAge drops messages older than this. Default 0: kept forever.
	MaxAge time.Duration
	// MaxBytes drops the oldest messages once the stream holds more than
	// this many bytes (JetStream's discard-old policy: new changes are
	// always stored). Default 0: no limit.
	MaxBytes int64
	// Duplicates is the window in which a repeated Nats-Msg-Id is dropped.
	// Default DefaultDuplicates (1s) for a limits stream,
	// DefaultDuplicatesConsumed (10 minutes) for interest and workqueue
	// streams, never longer than MaxAge. See the package documentation.
	Duplicates time.Duration
}

// PublisherOptions configure a Publisher.
type PublisherOptions struct {
	// DB is the store whose log is published. Required.
	DB *engine.DB
	// Conn is the NATS connection; it may be (re)connecting. Required,
	// and it must be made with nats.ReconnectBufSize(-1): a publish while
	// it reconnects then fails at once instead of waiting in the client's
	// buffer to be flushed after the reconnect, behind or ahead of what
	// the publisher re-sends from its cursor. NewPublisher checks it.
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
	// MaxInFlight bounds the publishes awaiting their acknowledgement:
	// new changes go out while older ones are unacknowledged, up to this
	// many. Default 1024.
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
	// SigningKey keys the hash in each message's SigHeader, by which the
	// publisher tells its own messages from forged ones. Default:
	// DB.Secret("nats-msg-sig"), the same across restarts.
	SigningKey []byte
}

// Message headers and subjects besides the changes'.
const (
	// SigHeader carries the publisher's keyed hash (HMAC-SHA256, 32 hex
	// digits) of the message's Nats-Msg-Id. When JetStream answers a
	// publish as a duplicate, the publisher reads the stored message and
	// accepts it as the change only when this header is its own: a message
	// someone else published with the next Nats-Msg-Id cannot take a
	// change's place.
	SigHeader = "Almanac-Sig"
	// DeadLetterSubject is where a change the publisher can never publish
	// goes instead: a JSON DeadLetter under the change's Nats-Msg-Id, so
	// the stream keeps one message per seq and a consumer of the whole
	// stream sees the gap explained.
	DeadLetterSubject = SubjectPrefix + "._dead"
	// MaxSubjectLen bounds a change's subject: nats-server refuses a
	// control line (the PUB verb, subject, reply inbox and sizes) over
	// 4096 bytes by closing the connection, so a longer subject could
	// never be published. Such a change goes to DeadLetterSubject.
	MaxSubjectLen = 3072
	// headerRoom is what the headers of a message may take of the
	// server's max payload.
	headerRoom = 1024
)

// DeadLetter is the payload (JSON) of a message on DeadLetterSubject.
type DeadLetter struct {
	// Seq is the change's log sequence number.
	Seq uint64 `json:"seq"`
	// Reason says why it could not be published.
	Reason string `json:"reason"`
}

// override changes how one seq is published, after the broker refused or
// mistook it.
type override struct {
	noBody bool   // without the body: the stream refused the size
	dead   string // a dead letter with this reason instead
	msgID  string // under this Nats-Msg-Id: another message holds the seq's
}

// Publisher is the NATS outbox: it reads the log from the last change the
// stream stores (or its cursor) and publishes every change to JetStream
// with Nats-Msg-Id = seq, and with the stream sequence and message ID it
// expects the change to follow, so the broker rejects a change that would
// land out of order or twice. The cursor advances only over
// acknowledged seqs; while NATS is down it stands still and the backlog
// drains when NATS returns. See the package documentation.
type Publisher struct {
	opts PublisherOptions
	conv *change.Converter

	cursor atomic.Uint64 // last acknowledged seq, all before it too
	saved  atomic.Uint64 // last cursor stored in the engine
	// saveNow asks the saver to store the cursor now (it ran saveEvery
	// seqs ahead of the stored one).
	saveNow chan struct{}

	failing atomic.Bool // lastErr != nil
	// progress is set when a change is acknowledged; Run clears it before
	// each session.
	progress atomic.Bool
	mu       sync.Mutex
	lastErr  error

	// omu guards overrides, set by a session that met a permanent
	// rejection or a forged duplicate and read by the next ones; an entry
	// is dropped once the cursor passes its seq.
	omu          sync.Mutex
	overrides    map[engine.Seq]override
	anyOverrides atomic.Bool // len(overrides) > 0
}

// NewPublisher reads the cursor and returns a Publisher; Run starts it.
func NewPublisher(opts PublisherOptions) (*Publisher, error) {
	if opts.DB == nil || opts.Conn == nil {
		return nil, errors.New("feed: PublisherOptions need DB and Conn")
	}
	if opts.Conn.Opts.ReconnectBufSize >= 0 {
		return nil, errors.New("feed: PublisherOptions.Conn must be made with nats.ReconnectBufSize(-1) " +
			"(publishes buffered during a reconnect could reach the stream out of order)")
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
	if len(opts.SigningKey) == 0 {
		opts.SigningKey = opts.DB.Secret("nats-msg-sig")
	}
	p := &Publisher{opts: opts, conv: change.NewConverter(opts.DB), saveNow: make(chan struct{}, 1),
		overrides: make(map[engine.Seq]override)}
	p.cursor.Store(uint64(c))
	p.saved.Store(uint64(c))
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

// Run publishes until ctx ends, starting over after the last change the
// stream stores (or after the cursor, see the package documentation) after
// every failure. It stores the cursor in the engine at most every saveInterval
// while it moves, every saveEvery seqs, and before it returns; the stores
// never hold up publishing. It starts from the stored cursor, so Run may
// be called again after it returned, also after another process moved
// the stored cursor (a cluster node that takes publishing over from
// another copies that one's cursor). Two Runs must not overlap.
func (p *Publisher) Run(ctx context.Context) error {
	c, err := p.opts.DB.Cursor(p.opts.Cursor)
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	p.cursor.Store(uint64(c))
	p.saved.Store(uint64(c))
	sctx, stopSaver := context.WithCancel(context.Background())
	saverDone := make(chan struct{})
	go func() { defer close(saverDone); p.saveLoop(sctx) }()
	for {
		p.progress.Store(false)
		err := p.session(ctx)
		if ctx.Err() != nil {
			break
		}
		if tailMoved(err) {
			// The stream's tail is not where the session found it or its
			// own publishes left it (another publisher, a previous
			// session's publish stored late, a purge). Nothing is wrong
			// with NATS: start over at once when this session stored
			// something, otherwise after RetryWait, so that a busy other
			// publisher cannot keep it spinning.
			p.opts.Logger.Info("nats: the stream's last sequence moved; publishing again after its last change",
				"err", err, "cursor", p.Cursor())
			if p.progress.Load() || p.pause(ctx) {
				continue
			}
			break
		}
		if errors.Is(err, errRestart) {
			// A change needs another form (an override is set): the
			// next session publishes it so, at once.
			p.opts.Logger.Info("nats: publishing again from the cursor", "err", err, "cursor", p.Cursor())
			continue
		}
		p.setErr(err)
		p.opts.Metrics.publishError()
		head := p.opts.DB.Head()
		p.opts.Logger.Warn("nats: publishing paused; retrying from the cursor",
			"err", err, "cursor", p.Cursor(), "lag", uint64(head)-min(uint64(head), uint64(p.Cursor())))
		if !p.pause(ctx) {
			break
		}
	}
	stopSaver()
	<-saverDone
	return p.save()
}

// pause waits RetryWait; false when ctx ended first.
func (p *Publisher) pause(ctx context.Context) bool {
	t := time.NewTimer(p.opts.RetryWait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// errCodeWrongLastMsgID is nats-server's JSStreamWrongLastMsgIDErrF, which
// nats.go does not name.
const errCodeWrongLastMsgID jetstream.ErrorCode = 10070

// tailMoved reports whether err is the broker's answer to a publish whose
// expected last sequence or message ID was not the stream's.
func tailMoved(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant, errCodeWrongLastMsgID:
		return true
	}
	return false
}

// Cursor saving.
const (
	// saveInterval is how often the saver stores a moving cursor.
	saveInterval = time.Second
	// saveEvery is how far the acknowledged cursor may run ahead of the
	// stored one before the saver stores it without waiting for the tick.
	saveEvery = 4096
)

// saveLoop stores the cursor every saveInterval when it moved, and when
// ack asks for it, until ctx ends. A save is an fsync in the engine: it
// runs here, never on the publish path. Losing the last saves in a crash
// costs nothing: the next session starts after the last change the stream
// stores, not after the stored cursor.
func (p *Publisher) saveLoop(ctx context.Context) {
	t := time.NewTicker(saveInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.saveNow:
		}
		if err := p.save(); err != nil {
			p.opts.Logger.Error("nats: save cursor", "err", err)
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

// save stores the cursor in the engine when it moved. Only one goroutine
// saves at a time: saveLoop while Run runs, then Run.
func (p *Publisher) save() error {
	c := p.Cursor()
	if uint64(c) == p.saved.Load() {
		return nil
	}
	if err := p.opts.DB.SetCursor(p.opts.Cursor, c); err != nil {
		return err
	}
	p.saved.Store(uint64(c))
	return nil
}

// ensureStream creates the stream when it is missing and returns it.
func (p *Publisher) ensureStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.AckTimeout)
	defer cancel()
	st, err := js.Stream(ctx, p.opts.Stream.Name)
	if err == nil {
		return p.shortenWindow(ctx, js, st), nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("nats: look up stream %s: %w", p.opts.Stream.Name, err)
	}
	ret, _ := retentionPolicy(p.opts.Stream.Retention)
	st, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       p.opts.Stream.Name,
		Subjects:   []string{SubjectPrefix + ".>"},
		Retention:  ret,
		Replicas:   p.opts.Stream.Replicas,
		MaxAge:     p.opts.Stream.MaxAge,
		MaxBytes:   p.opts.Stream.MaxBytes,
		Discard:    jetstream.DiscardOld,
		Duplicates: p.opts.Stream.duplicates(ret),
		Storage:    jetstream.FileStorage,
		// Every message carries the event and, with IncludeBody, the body:
		// S2 shrinks a sealed block of iCalendar to about a third. The file
		// store compresses a block once it is full (4 MiB with a MaxBytes,
		// 8 MiB without), so the block being written stays raw.
		Compression: jetstream.S2Compression,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.Stream(ctx, p.opts.Stream.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("nats: create stream %s: %w", p.opts.Stream.Name, err)
	}
	p.opts.Logger.Info("nats: created stream", "stream", p.opts.Stream.Name, "subjects", SubjectPrefix+".>")
	return st, nil
}

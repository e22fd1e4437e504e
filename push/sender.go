package push

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
	davpush "github.com/almanac/almanac/dav/push"
	"github.com/almanac/almanac/engine"
)

// Options configure a Sender.
type Options struct {
	// DB is the store whose log is followed. Required.
	DB *engine.DB
	// Keys sign the messages (VAPID). Required.
	Keys *Keys
	// Cursor names the engine cursor that keeps the sender's place.
	// Default "push".
	Cursor string
	// MinInterval is the least time between two messages to one
	// registration: changes in between are merged into one message with
	// the latest sync-token. Default 1s.
	MinInterval time.Duration
	// Concurrency bounds the POSTs in flight. Default 32.
	Concurrency int
	// Timeout bounds each POST, connection included. Default 10s.
	Timeout time.Duration
	// TTL is the TTL header (RFC 8030 §5.2): how long the push service
	// keeps a message for a device that is offline. Default 24h.
	TTL time.Duration
	// Contact is the VAPID JWT's sub: a mailto: or https: URL.
	// Default "mailto:postmaster@localhost".
	Contact string
	// AllowPrivate lets push resources be plain http and name loopback,
	// private and link-local addresses (a push service on the LAN, tests).
	// By default the sender reaches only https on public addresses.
	AllowPrivate bool
	// Client overrides the HTTP client (its transport should refuse what
	// AllowPrivate refuses). Default: one that does, with Timeout.
	Client *http.Client
	// Logger receives the sender's logs. Default: discard.
	Logger *slog.Logger
	// Metrics, when set, receives the counters.
	Metrics *Metrics
	// Clock is the time source (tests). Default time.Now.
	Clock func() time.Time
	// SweepInterval is how often expired registrations are purged.
	// Default 1 minute.
	SweepInterval time.Duration
}

// Sender follows the log from its cursor and delivers WebDAV-Push
// messages (RFC 8291 aes128gcm, RFC 8292 VAPID) to the registrations of
// each changed collection. Per registration at most one message waits
// (the latest state: content and/or property update, and the sync-token
// read when it is sent) and at most one is in flight; POSTs are bounded
// by Concurrency. The cursor only passes a change once every message it
// caused was delivered or given up, so a restart in the middle of a
// burst sends each registration the latest token again.
type Sender struct {
	o      Options
	db     *engine.DB
	client *http.Client
	log    *slog.Logger
	sem    chan struct{}
	wake   chan struct{}

	mu       sync.Mutex
	pending  map[string]*pend
	lastSent map[string]time.Time
	wg       sync.WaitGroup
}

// pend is what waits for one registration.
type pend struct {
	content, props, keys bool
	urgent               bool
	// first is the first change not yet sent (0: none waiting);
	// inflight, the first of those the message in flight carries.
	first, inflight engine.Seq
	// since is when the first waiting change was committed.
	since     time.Time
	due       time.Time // not before (min interval, backoff)
	attempts  int
	sending   bool
	sentSince time.Time // since of the message in flight
}

func (p *pend) waiting() bool { return p.content || p.props || p.keys }

// NewSender checks opts and returns a Sender; Run starts it. The first
// sender of a store (its cursor unset) starts at the log's head.
func NewSender(opts Options) (*Sender, error) {
	if opts.DB == nil || opts.Keys == nil {
		return nil, errors.New("push: Options.DB and Options.Keys are required")
	}
	if opts.Cursor == "" {
		opts.Cursor = "push"
	}
	if opts.MinInterval <= 0 {
		opts.MinInterval = time.Second
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 32
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.TTL <= 0 {
		opts.TTL = 24 * time.Hour
	}
	if opts.Contact == "" {
		opts.Contact = "mailto:postmaster@localhost"
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = time.Minute
	}
	s := &Sender{o: opts, db: opts.DB, client: opts.Client, log: opts.Logger,
		sem: make(chan struct{}, opts.Concurrency), wake: make(chan struct{}, 1),
		pending: map[string]*pend{}, lastSent: map[string]time.Time{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.client == nil {
		s.client = newClient(opts.Timeout, opts.AllowPrivate, opts.Concurrency)
	}
	// A store that never had a sender had no registrations to tell of
	// its past: the first sender starts at the head instead of reading
	// the whole log.
	c, err := opts.DB.Cursor(opts.Cursor)
	if err != nil {
		return nil, err
	}
	if c == 0 {
		if err := opts.DB.SetCursor(opts.Cursor, opts.DB.Head()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// VAPIDPublicKey returns the current VAPID public key (dav.PushService).
func (s *Sender) VAPIDPublicKey() string { return s.o.Keys.Current().Public }

// LastDelivery returns when the sender last delivered a message to
// registration id since it started (zero: none); the web app's devices
// page shows it.
func (s *Sender) LastDelivery(id string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSent[id]
}

// CheckEndpoint refuses a push resource the sender would not POST to
// (dav.PushService).
func (s *Sender) CheckEndpoint(pushResource string) error {
	return checkEndpoint(pushResource, s.o.AllowPrivate)
}

// Run delivers until ctx ends; it returns ctx's error after every POST in
// flight has ended.
func (s *Sender) Run(ctx context.Context) error {
	defer s.wg.Wait()
	cursor, err := s.db.Cursor(s.o.Cursor)
	if err != nil {
		return err
	}
	heads := make(chan engine.Seq, 1)
	go func() {
		known := cursor
		for {
			h, err := s.db.Wait(ctx, known)
			if err != nil {
				close(heads)
				return
			}
			select {
			case <-heads:
			default:
			}
			heads <- h
			known = h
		}
	}()
	read, saved := cursor, cursor
	lastSave := time.Time{}
	s.sweep(ctx)
	sweep := time.NewTicker(s.o.SweepInterval)
	defer sweep.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := s.dispatch(ctx)
		if c := s.checkpoint(read); c != saved && time.Since(lastSave) >= time.Second {
			if err := s.db.SetCursor(s.o.Cursor, c); err != nil {
				s.log.Warn("push: save cursor", "err", err)
			} else {
				saved, lastSave = c, time.Now()
			}
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(s.o.Clock()), time.Millisecond)
		}
		if saved != s.checkpoint(read) {
			wait = min(wait, time.Second)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case h, ok := <-heads:
			if !ok {
				return ctx.Err()
			}
			if h > read {
				if err := s.follow(read, h); err != nil {
					s.log.Error("push: read the log", "err", err)
					continue
				}
				read = h
			}
		case <-s.wake:
		case <-timer.C:
		case <-sweep.C:
			s.sweep(ctx)
		}
	}
}

// checkpoint is the cursor the sender may save: before the first change
// a message still waits for, else read.
func (s *Sender) checkpoint(read engine.Seq) engine.Seq {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := read
	for _, p := range s.pending {
		for _, f := range [2]engine.Seq{p.first, p.inflight} {
			if f > 0 && f-1 < c {
				c = f - 1
			}
		}
	}
	return c
}

// target is a collection a change concerns and how.
type target struct {
	id             uint64
	content, props bool
}

// follow reads the log after from up to head and marks the registrations
// each change concerns.
func (s *Sender) follow(from, head engine.Seq) error {
	v, err := s.db.View()
	if err != nil {
		return err
	}
	defer v.Close()
	for ev, err := range v.Log(from + 1) {
		if err != nil {
			return err
		}
		if ev.Seq > head {
			break
		}
		if ev.Op == engine.OpPushKeyRotated {
			regs, err := v.AllPushRegistrations()
			if err != nil {
				return err
			}
			for _, r := range regs {
				if r.Created.Before(ev.Time) { // later ones know the new key
					s.mark(r, ev, target{}, true)
				}
			}
			continue
		}
		for _, t := range targets(v, ev) {
			regs, err := v.PushRegistrations(t.id)
			if err != nil {
				return err
			}
			for _, r := range regs {
				if (t.content && r.ContentUpdate) || (t.props && r.PropertyUpdate) {
					s.mark(r, ev, t, false)
				}
			}
		}
	}
	return nil
}

// targets returns the collections whose content or properties ev
// changed: the collection of an object change (both ends of a move), a
// collection whose properties changed, and the parent (a home) of a
// collection created, deleted or moved.
func targets(v *engine.View, ev *engine.Event) []target {
	switch ev.Op {
	case engine.OpObjectPut, engine.OpObjectDeleted, engine.OpObjectPropsChanged:
		return []target{{id: ev.CollectionID, content: true}}
	case engine.OpObjectMoved:
		return []target{{id: ev.CollectionID, content: true}, {id: ev.ToCollectionID, content: true}}
	case engine.OpPropsChanged:
		return []target{{id: ev.CollectionID, props: true}}
	case engine.OpCollectionCreated, engine.OpCollectionDeleted, engine.OpCollectionMoved:
		var out []target
		for _, p := range []string{ev.CollectionPath, ev.ToCollectionPath} {
			if c, err := v.Collection(parentPath(p)); err == nil && p != "" {
				out = append(out, target{id: c.ID, content: true})
			}
		}
		return out
	}
	return nil
}

// parentPath returns the collection path holding collection path p.
func parentPath(p string) string {
	p = p[:max(len(p)-1, 0)]
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i+1]
		}
	}
	return "/"
}

// mark records that registration r is to be told of ev.
func (s *Sender) mark(r *engine.PushRegistration, ev *engine.Event, t target, keys bool) {
	if ev.Push != nil && ev.Actor == r.User && (slices.Contains(ev.Push.DontNotify, "*") || slices.Contains(ev.Push.DontNotify, r.ID)) {
		return // Push-Dont-Notify: the writer's own device
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending[r.ID]
	if p == nil {
		p = &pend{due: s.lastSent[r.ID].Add(s.o.MinInterval)}
		s.pending[r.ID] = p
	}
	if p.waiting() {
		s.o.Metrics.add(metricMerged)
	} else {
		p.first, p.since = ev.Seq, ev.Time
	}
	p.content = p.content || (t.content && r.ContentUpdate)
	p.props = p.props || (t.props && r.PropertyUpdate)
	p.keys = p.keys || keys
	p.urgent = p.urgent || (t.content && alarmSoon(ev, s.o.Clock()))
}

// alarmSoon reports whether ev wrote an object with an alarm that may
// ring within a day: a VALARM, and a time envelope (all instances, for a
// recurring event) that reaches into the next 24 hours.
func alarmSoon(ev *engine.Event, now time.Time) bool {
	if !bytes.Contains(ev.Body, []byte("BEGIN:VALARM")) || (ev.EnvelopeStart == 0 && ev.EnvelopeEnd == 0) {
		return false
	}
	return ev.EnvelopeStart <= now.Add(24*time.Hour).Unix() && ev.EnvelopeEnd >= now.Unix()
}

// dispatch starts the POSTs that are due, as far as Concurrency allows,
// and returns when the next waiting one is due (zero: none waits).
func (s *Sender) dispatch(ctx context.Context) time.Time {
	now := s.o.Clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for id, p := range s.pending {
		if !p.waiting() {
			if !p.sending {
				delete(s.pending, id)
			}
			continue
		}
		if p.sending {
			continue
		}
		if p.due.After(now) {
			if next.IsZero() || p.due.Before(next) {
				next = p.due
			}
			continue
		}
		select {
		case s.sem <- struct{}{}:
		default:
			return now.Add(10 * time.Millisecond) // all slots busy; a finished POST wakes us
		}
		m := message{id: id, content: p.content, props: p.props, keys: p.keys, urgent: p.urgent, since: p.since}
		p.content, p.props, p.keys, p.urgent = false, false, false, false
		p.inflight, p.first, p.sending, p.sentSince = p.first, 0, true, p.since
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			out := s.send(ctx, m)
			s.done(m, out)
		}()
	}
	return next
}

// message is one POST's worth of a pend.
type message struct {
	id                           string
	content, props, keys, urgent bool
	since                        time.Time
}

// outcome is what became of a message.
type outcome int

const (
	delivered outcome = iota
	dropped           // nothing to send, or refused for good
	retry             // 429, 5xx, network: try again later
	gone              // 404/410: the registration goes
)

// done records the outcome of m and wakes the loop.
func (s *Sender) done(m message, out outcome) {
	now := s.o.Clock()
	s.mu.Lock()
	p := s.pending[m.id]
	p.sending = false
	switch out {
	case delivered:
		s.lastSent[m.id] = now
		p.attempts, p.inflight = 0, 0
		p.due = now.Add(s.o.MinInterval)
	case retry:
		p.attempts++
		p.content, p.props, p.keys, p.urgent = p.content || m.content, p.props || m.props, p.keys || m.keys, p.urgent || m.urgent
		if p.first == 0 || p.inflight < p.first {
			p.first, p.since = p.inflight, m.since
		}
		p.inflight = 0
		p.due = now.Add(backoff(p.attempts))
	default:
		p.inflight = 0
		if out == gone {
			p.content, p.props, p.keys, p.first = false, false, false, 0
		}
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// backoff is the wait after the n-th failure in a row: 1s doubling, at
// most 10 minutes.
func backoff(n int) time.Duration {
	return min(time.Second<<min(n-1, 10), 10*time.Minute)
}

// send builds, encrypts and POSTs m.
func (s *Sender) send(ctx context.Context, m message) outcome {
	v, err := s.db.View()
	if err != nil {
		return retry
	}
	r, err := v.PushRegistration(m.id)
	if err != nil {
		v.Close()
		return dropped // unregistered meanwhile
	}
	now := s.o.Clock()
	if !r.Expires.After(now) {
		v.Close()
		return dropped // the sweep purges it
	}
	c, _, err := v.CollectionByID(r.CollectionID)
	if err != nil || c.Path == "" {
		v.Close()
		return dropped
	}
	if res, err := v.Access(r.User, c.Path); err != nil || res.Access < engine.AccessRead {
		v.Close()
		return dropped // no longer allowed to read it
	}
	v.Close()
	topic := s.db.PushTopic(r.CollectionID)
	var changed []string
	if m.keys {
		changed = []string{"transports"}
	}
	token := ""
	if m.content {
		token = c.SyncToken
	}
	body := davpush.Message(topic, token, m.content, m.props || m.keys, changed...)
	key := s.o.Keys.Current()
	if prev, ok := s.o.Keys.Previous(); ok && m.keys {
		key = prev // the subscription may accept only the key it was made for
	}
	urgency := webpush.UrgencyNormal
	if m.urgent {
		urgency = webpush.UrgencyHigh
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	resp, err := webpush.SendNotificationWithContext(ctx, body, &webpush.Subscription{
		Endpoint: r.PushResource,
		Keys: webpush.Keys{
			Auth:   base64.RawURLEncoding.EncodeToString(r.AuthSecret),
			P256dh: base64.RawURLEncoding.EncodeToString(r.PublicKey),
		},
	}, &webpush.Options{
		HTTPClient:      s.client,
		RecordSize:      uint32(len(body) + 256), // the least padding webpush-go allows
		Subscriber:      s.o.Contact,
		Topic:           pushTopicHeader(topic, m),
		TTL:             int(s.o.TTL / time.Second),
		Urgency:         urgency,
		VAPIDPublicKey:  key.Public,
		VAPIDPrivateKey: key.Private,
	})
	if err != nil {
		s.o.Metrics.add(metricFailed)
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return retry
		}
		s.log.Info("push: POST failed", "registration", r.ID, "err", err)
		return retry
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		s.o.Metrics.add(metricSent)
		if !m.since.IsZero() {
			s.o.Metrics.observe(s.o.Clock().Sub(m.since).Seconds())
		}
		return delivered
	case code == http.StatusNotFound || code == http.StatusGone:
		s.prune(ctx, r.ID, fmt.Sprintf("the push service answered %d", code))
		return gone
	case code == http.StatusTooManyRequests || code >= 500:
		s.o.Metrics.add(metricFailed)
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && ra > 0 {
			s.mu.Lock()
			if p := s.pending[m.id]; p != nil {
				p.attempts = max(p.attempts, bitsFor(time.Duration(ra)*time.Second))
			}
			s.mu.Unlock()
		}
		return retry
	default:
		s.o.Metrics.add(metricFailed)
		s.log.Warn("push: the push service refused a message", "registration", r.ID, "status", resp.StatusCode)
		return dropped
	}
}

// bitsFor returns the attempt count whose backoff is at least d.
func bitsFor(d time.Duration) int {
	n := 1
	for backoff(n) < d && n < 12 {
		n++
	}
	return n - 1
}

// pushTopicHeader is the Topic header (RFC 8030 §5.4: at most 32
// base64url characters) that lets the push service replace an
// undelivered message with a newer one of the same kind: derived from the
// collection's topic and the message's kind, and telling nothing more.
func pushTopicHeader(topic string, m message) string {
	kind := "c"
	if m.props || m.keys {
		kind = "p"
		if m.content {
			kind = "cp"
		}
	}
	sum := sha256.Sum256([]byte(topic + "/" + kind))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

// prune removes registration id (gone at the push service, or expired).
func (s *Sender) prune(ctx context.Context, id, reason string) {
	err := s.db.UnregisterPush(ctx, engine.Meta{Actor: "almanac", Reason: reason}, id, "")
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		s.log.Warn("push: remove registration", "registration", id, "err", err)
		return
	}
	if err == nil {
		s.o.Metrics.add(metricPruned)
		s.log.Info("push: registration removed", "registration", id, "reason", reason)
	}
}

// sweep purges the expired registrations.
func (s *Sender) sweep(ctx context.Context) {
	v, err := s.db.View()
	if err != nil {
		return
	}
	regs, err := v.AllPushRegistrations()
	v.Close()
	if err != nil {
		s.log.Warn("push: list registrations", "err", err)
		return
	}
	now := s.o.Clock()
	for _, r := range regs {
		if !r.Expires.After(now) {
			s.prune(ctx, r.ID, "expired")
		}
	}
}

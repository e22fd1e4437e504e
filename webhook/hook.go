package webhook

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/almanac/almanac/change"
	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// readChunk is how many log events one view reads, so a slow receiver
// never pins an old snapshot for long.
const readChunk = 1024

// hook is the delivery loop of one webhook.
type hook struct {
	d      *Deliverer
	w      *engine.Webhook
	key    []byte
	client *http.Client
	filter change.Filter
	ctx    context.Context
	cancel context.CancelFunc

	cursor  atomic.Uint64 // last delivered seq
	saved   engine.Seq    // last cursor stored (loop goroutine only)
	unsaved int           // changes delivered since (loop goroutine only)
	savedAt time.Time     // (loop goroutine only)

	mu           sync.Mutex
	lastErr      string
	failingSince time.Time
}

// errStopped ends a loop whose webhook is gone or paused.
var errStopped = errors.New("webhook: stopped")

func (d *Deliverer) newHook(ctx context.Context, w *engine.Webhook) (*hook, error) {
	cur, err := d.opts.DB.Cursor(engine.WebhookCursor(w.ID))
	if err != nil {
		return nil, err
	}
	if cur < w.Seq {
		cur = w.Seq // a new webhook starts after its creation
	}
	h := &hook{d: d, w: w, key: d.opts.DB.WebhookSecret(w), client: d.guarded, saved: cur}
	if w.Owner == "" {
		h.client = d.open
	}
	h.filter = change.Filter{Reader: w.Owner, Admin: w.Owner == "", Principal: w.Principal, Prefix: w.CollectionPrefix}
	for _, k := range w.Kinds {
		h.filter.Kinds = append(h.filter.Kinds, change.KindToProto(k))
	}
	for _, o := range w.Ops {
		h.filter.Ops = append(h.filter.Ops, feedv1.Op(o))
	}
	h.cursor.Store(uint64(cur))
	h.ctx, h.cancel = context.WithCancel(ctx)
	return h, nil
}

func (h *hook) status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Status{Running: true, Cursor: h.cursor.Load(), LastError: h.lastErr, FailingSince: h.failingSince}
}

// run follows the log from the cursor until the webhook is deleted or
// paused, or the deliverer stops.
func (h *hook) run() {
	log := h.d.opts.Logger.With("webhook", h.w.ID)
	log.Debug("webhook: delivery started", "cursor", h.saved)
	err := h.loop()
	h.save(true)
	if err != nil && !errors.Is(err, errStopped) && h.ctx.Err() == nil {
		log.Error("webhook: delivery stopped", "err", err)
	}
	log.Debug("webhook: delivery ended", "cursor", h.cursor.Load(), "err", err)
}

func (h *hook) loop() error {
	db := h.d.opts.DB
	h.savedAt = h.d.opts.Now()
	for {
		next := engine.Seq(h.cursor.Load()) + 1
		batch, head, last, err := h.read(next)
		if err != nil {
			return err
		}
		if last == 0 { // caught up
			h.save(true)
			if _, err := db.Wait(h.ctx, head); err != nil {
				return err
			}
			continue
		}
		for _, ch := range batch {
			if err := h.deliver(ch); err != nil {
				return err
			}
			h.advance(engine.Seq(ch.Seq))
		}
		h.advance(last)
	}
}

// read reads up to readChunk events from next on through one view: the
// changes to send, the view's head, and the last seq read (0 when the log
// ends before next). A webhook deleted or paused in the view stops.
func (h *hook) read(next engine.Seq) (batch []*feedv1.Change, head, last engine.Seq, err error) {
	v, err := h.d.opts.DB.View()
	if err != nil {
		return nil, 0, 0, err
	}
	defer v.Close()
	w, err := v.Webhook(h.w.ID)
	if errors.Is(err, engine.ErrNotFound) || err == nil && w.Paused {
		return nil, 0, 0, errStopped
	}
	if err != nil {
		return nil, 0, 0, err
	}
	head = v.Head()
	if next > head {
		return nil, head, 0, nil
	}
	events := v.Log(next)
	if h.w.Owner != "" {
		events = v.ReadableLog(h.w.Owner, next)
	}
	n := 0
	for ev, err := range events {
		if err != nil {
			return nil, 0, 0, err
		}
		ch, err := h.d.conv.Change(v, ev, h.w.IncludeBody, h.d.opts.MaxBody)
		if err != nil {
			return nil, 0, 0, err
		}
		if ch != nil && h.filter.Match(ch) {
			batch = append(batch, ch)
		}
		last = ev.Seq
		if n++; n == readChunk {
			return batch, head, last, nil
		}
	}
	return batch, head, head, nil
}

// deliver sends ch until the receiver takes it, backing off between
// failures; after MaxOutage of failure it pauses the webhook.
func (h *hook) deliver(ch *feedv1.Change) error {
	body, err := protojson.Marshal(ch)
	if err != nil {
		return fmt.Errorf("webhook: encode change %d: %w", ch.Seq, err)
	}
	o := &h.d.opts
	id := strconv.FormatUint(ch.Seq, 10)
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(h.ctx, o.Timeout)
		err := post(actx, h.client, h.w.URL, h.key, id, o.Now(), body, o.MaxResponse)
		cancel()
		if err == nil {
			h.mu.Lock()
			h.lastErr, h.failingSince = "", time.Time{}
			h.mu.Unlock()
			o.Metrics.delivered()
			return nil
		}
		if h.ctx.Err() != nil {
			return h.ctx.Err()
		}
		o.Metrics.failed()
		now := o.Now()
		h.mu.Lock()
		h.lastErr = err.Error()
		if h.failingSince.IsZero() {
			h.failingSince = now
		}
		since := h.failingSince
		h.mu.Unlock()
		if now.Sub(since) >= o.MaxOutage {
			return h.pause(ch.Seq, since, err)
		}
		o.Logger.Debug("webhook: attempt failed", "webhook", h.w.ID, "seq", ch.Seq, "attempt", attempt, "err", err)
		select {
		case <-time.After(backoff(o.MinBackoff, o.MaxBackoff, attempt)):
		case <-h.ctx.Done():
			return h.ctx.Err()
		}
	}
}

// backoff is the wait after failure number attempt (from 0): MinBackoff
// doubled per attempt up to max, drawn between half and all of it.
func backoff(lo, hi time.Duration, attempt int) time.Duration {
	b := hi
	if attempt < 32 && lo<<attempt < hi && lo<<attempt > 0 {
		b = lo << attempt
	}
	return b/2 + rand.N(b/2+1)
}

// pause records that the webhook is paused: an event, a log line, a metric.
func (h *hook) pause(seq uint64, since time.Time, cause error) error {
	reason := fmt.Sprintf("failing since %s at change %d: %v", since.UTC().Format(time.RFC3339), seq, cause)
	if err := h.d.opts.DB.SetWebhookPaused(h.ctx, engine.Meta{Actor: "webhook"}, h.w.ID, true, reason); err != nil {
		return fmt.Errorf("webhook: pause: %w", err)
	}
	h.d.opts.Logger.Warn("webhook: paused after failing too long; `almanac webhook resume` continues from its cursor",
		"webhook", h.w.ID, "url", h.w.URL, "owner", h.w.Owner, "max_outage", h.d.opts.MaxOutage, "reason", reason)
	h.d.opts.Metrics.paused()
	return errStopped
}

// advance moves the cursor to seq and stores it when due.
func (h *hook) advance(seq engine.Seq) {
	if uint64(seq) <= h.cursor.Load() {
		return
	}
	h.cursor.Store(uint64(seq))
	h.unsaved++
	h.save(false)
}

// save stores the cursor when it moved and (unless force) SaveEvery
// changes or SaveInterval passed since the last store.
func (h *hook) save(force bool) {
	cur := engine.Seq(h.cursor.Load())
	if cur == h.saved {
		return
	}
	now := h.d.opts.Now()
	if !force && h.unsaved < h.d.opts.SaveEvery && now.Sub(h.savedAt) < h.d.opts.SaveInterval {
		return
	}
	if err := h.d.opts.DB.SetCursor(engine.WebhookCursor(h.w.ID), cur); err != nil {
		h.d.opts.Logger.Error("webhook: store cursor", "webhook", h.w.ID, "err", err)
		return
	}
	h.saved, h.unsaved, h.savedAt = cur, 0, now
}

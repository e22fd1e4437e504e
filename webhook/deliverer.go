package webhook

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/almanac/almanac/change"
	"github.com/almanac/almanac/engine"
)

// Options configure a Deliverer. Each field documents its default.
type Options struct {
	// DB is the store whose webhooks are delivered. Required.
	DB *engine.DB
	// Timeout bounds one attempt (connect, send, answer). Default 10s.
	Timeout time.Duration
	// MaxOutage is how long a webhook may fail before it is paused.
	// Default 24h.
	MaxOutage time.Duration
	// MinBackoff is the wait before the first retry, doubled on each
	// failure up to MaxBackoff (each wait drawn at random between half
	// and all of it). Defaults 1s and 5m.
	MinBackoff, MaxBackoff time.Duration
	// MaxBody is the largest object body a change carries (with
	// include-body); a larger one is left out and BodyOmitted set.
	// Default 1 MiB.
	MaxBody int
	// MaxResponse is how much of a receiver's answer is read. Default 4 KiB.
	MaxResponse int64
	// SaveEvery and SaveInterval: the cursor is stored after this many
	// delivered changes or this long, whichever first (and whenever a
	// loop catches up or stops). Defaults 256 and 1s.
	SaveEvery    int
	SaveInterval time.Duration
	// AllowPrivate lets users' webhooks reach loopback, private and
	// link-local addresses (a trusted single-user setup, tests). Default
	// false: only an administrator's webhooks may.
	AllowPrivate bool
	// Logger receives the deliverer's logs. Default: discard.
	Logger *slog.Logger
	// Metrics, when set, receives the delivery counters.
	Metrics *Metrics
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Deliverer runs one delivery loop per active webhook.
type Deliverer struct {
	opts            Options
	conv            *change.Converter
	open, guarded   *http.Client
	reconcileWindow time.Duration

	mu      sync.Mutex
	running map[string]*hook
}

// New returns a Deliverer; Run starts it.
func New(opts Options) (*Deliverer, error) {
	if opts.DB == nil {
		return nil, errors.New("webhook: Options need DB")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxOutage <= 0 {
		opts.MaxOutage = 24 * time.Hour
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(5*time.Minute, opts.MinBackoff)
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.MaxResponse <= 0 {
		opts.MaxResponse = 4 << 10
	}
	if opts.SaveEvery <= 0 {
		opts.SaveEvery = 256
	}
	if opts.SaveInterval <= 0 {
		opts.SaveInterval = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	d := &Deliverer{opts: opts, conv: change.NewConverter(opts.DB), open: newClient(false), guarded: newClient(!opts.AllowPrivate),
		reconcileWindow: 100 * time.Millisecond, running: make(map[string]*hook)}
	opts.Metrics.attach(d)
	return d, nil
}

// Run delivers until ctx ends: it starts a loop for every active webhook
// and stops the loops of webhooks deleted or paused, looking again
// whenever the log moves (at most every 100 ms). It returns ctx's error,
// or engine.ErrClosed, once every loop has stopped.
func (d *Deliverer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer func() {
		d.mu.Lock()
		for _, h := range d.running {
			h.cancel()
		}
		d.mu.Unlock()
		wg.Wait()
	}()
	var seen engine.Seq
	for {
		if err := d.reconcile(ctx, &wg); err != nil {
			d.opts.Logger.Error("webhook: list webhooks", "err", err)
		}
		head, err := d.opts.DB.Wait(ctx, seen)
		if err != nil {
			return err
		}
		seen = head
		select {
		case <-time.After(d.reconcileWindow):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// reconcile starts the loops of active webhooks not running and stops
// those of webhooks gone or paused.
func (d *Deliverer) reconcile(ctx context.Context, wg *sync.WaitGroup) error {
	v, err := d.opts.DB.View()
	if err != nil {
		return err
	}
	ws, err := v.Webhooks()
	v.Close()
	if err != nil {
		return err
	}
	active := make(map[string]*engine.Webhook, len(ws))
	for _, w := range ws {
		if !w.Paused {
			active[w.ID] = w
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, h := range d.running {
		if active[id] == nil {
			h.cancel()
		}
	}
	for id, w := range active {
		if d.running[id] != nil {
			continue
		}
		h, err := d.newHook(ctx, w)
		if err != nil {
			d.opts.Logger.Error("webhook: start", "webhook", id, "err", err)
			continue
		}
		d.running[id] = h
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.run()
			d.mu.Lock()
			if d.running[id] == h {
				delete(d.running, id)
			}
			d.mu.Unlock()
		}()
	}
	return nil
}

// Status is what a running deliverer knows of a webhook beyond its record.
type Status struct {
	// Running: a delivery loop follows the webhook.
	Running bool `json:"running"`
	// Cursor is the last seq delivered (all before it too).
	Cursor uint64 `json:"cursor"`
	// LastError is the last attempt's failure; FailingSince the start of
	// the current run of failures (zero while deliveries succeed).
	LastError    string    `json:"last_error,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
}

// Status returns what the deliverer knows of webhook id (Running false
// when no loop follows it).
func (d *Deliverer) Status(id string) Status {
	d.mu.Lock()
	h := d.running[id]
	d.mu.Unlock()
	if h == nil {
		return Status{}
	}
	return h.status()
}

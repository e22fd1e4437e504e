package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/lease"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// The senders that must run once per cluster: the NATS change publisher
// (downstream consumers see each change once), the Web Push sender and the
// webhook deliverer. Hooks hand them to ServeEnv.RunOnce. On a single node
// they run for as long as serve runs. On a cluster node they run while the
// node holds the "publisher" lease (package lease); a node that takes the
// lease first copies the cursors the last holder left in the key-value
// bucket almanac_cursors into its own database (each sender resumes from
// its engine cursor), and while it holds the lease it copies its cursors
// there every second and when it gives the lease back.
//
// What a holder did after the cursor it last copied is done again by the
// next one: delivery is at least once. The NATS publisher repeats nothing
// (it continues after the last change the stream stores); a webhook
// receiver sees the same webhook-id again; a push service may deliver a
// push twice. Nothing is skipped: every copied cursor is a point up to
// which a holder had delivered everything.

// cursorMirrorEvery is how often the holder copies its cursors.
const cursorMirrorEvery = time.Second

// singletons runs the works handed to ServeEnv.RunOnce.
type singletons struct {
	db      *engine.DB
	log     *slog.Logger
	lease   *lease.Lease       // nil on a single node
	cursors jetstream.KeyValue // nil on a single node
	works   []onceWork

	cancel context.CancelFunc
	done   chan struct{}
}

type onceWork struct {
	name string
	run  func(context.Context)
}

func (s *singletons) add(name string, run func(context.Context)) {
	s.works = append(s.works, onceWork{name, run})
}

// start runs the works: at once on a single node, under the lease on a
// cluster node.
func (s *singletons) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		if s.lease == nil {
			s.runAll(ctx)
			return
		}
		_ = s.lease.Run(ctx, s.term)
	}()
}

// stop ends the works and, on a cluster node, gives the lease back.
func (s *singletons) stop(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("publishers: %w", ctx.Err())
	}
}

func (s *singletons) runAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, w := range s.works {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	wg.Wait()
}

// term is one holding of the lease: adopt the cursors, run the works and
// copy the cursors out until ctx ends, then copy them a last time.
func (s *singletons) term(ctx context.Context) {
	if err := s.adopt(ctx); err != nil {
		// Starting from this node's own cursors may repeat more, or
		// (for a cursor it never had) start at the head: better than not
		// publishing at all.
		s.log.Error("cluster: adopt the last holder's cursors; starting from this node's own", "err", err)
	}
	mctx, stopMirror := context.WithCancel(ctx)
	mirrored := make(chan struct{})
	go func() {
		defer close(mirrored)
		t := time.NewTicker(cursorMirrorEvery)
		defer t.Stop()
		for {
			select {
			case <-mctx.Done():
				return
			case <-t.C:
			}
			if err := s.mirror(mctx); err != nil && mctx.Err() == nil {
				s.log.Warn("cluster: copy cursors to the bucket", "err", err)
			}
		}
	}()
	s.runAll(ctx)
	stopMirror()
	<-mirrored
	if errors.Is(context.Cause(ctx), lease.ErrLost) {
		return // cut off: another node may hold the lease already
	}
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.mirror(fctx); err != nil {
		s.log.Warn("cluster: copy cursors to the bucket on handing over", "err", err)
	}
}

// cursorKey is a cursor's key in the bucket: its name in URL-safe base64
// (names hold ':' and webhook ids, which keys may not).
func cursorKey(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

// adopt stores the cursors of the bucket in this node's database.
func (s *singletons) adopt(ctx context.Context) error {
	w, err := s.cursors.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer w.Stop()
	var errs []error
	for {
		var e jetstream.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-ctx.Done():
			return ctx.Err()
		}
		if e == nil { // every current value seen
			return errors.Join(errs...)
		}
		name, err := base64.RawURLEncoding.DecodeString(e.Key())
		if err != nil {
			continue // not ours
		}
		seq, err := strconv.ParseUint(string(e.Value()), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("cursor %s: %w", name, err))
			continue
		}
		if err := s.db.SetCursor(string(name), engine.Seq(seq)); err != nil {
			errs = append(errs, err)
		}
	}
}

// mirror copies this node's cursors to the bucket.
func (s *singletons) mirror(ctx context.Context) error {
	all, err := s.db.Cursors()
	if err != nil {
		return err
	}
	for name, seq := range all {
		if _, err := s.cursors.Put(ctx, cursorKey(name), []byte(strconv.FormatUint(uint64(seq), 10))); err != nil {
			return fmt.Errorf("cursor %s: %w", name, err)
		}
	}
	return nil
}

// registerLeaseMetrics adds almanac_cluster_publisher: 1 while this node
// holds the publisher lease.
func registerLeaseMetrics(reg *prometheus.Registry, l *lease.Lease) error {
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "almanac_cluster_publisher",
		Help: "1 while this node holds the publisher lease and runs the NATS change publisher, the push sender and the webhook deliverer; 0 otherwise.",
	}, func() float64 {
		if l.Held() {
			return 1
		}
		return 0
	}))
}

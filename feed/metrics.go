package feed

import (
	"fmt"
	"sync"

	"github.com/almanac/almanac/engine"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the feed's Prometheus metrics. A nil *Metrics is valid and
// records nothing.
//
//	almanac_events_appended_total            the log's head sequence number
//	almanac_feed_subscribers                 open Subscribe streams
//	almanac_feed_subscriber_lag_events{subscriber="id"}
//	                                         events between the head and what the subscriber got
//	almanac_feed_cutoffs_total               slow subscribers cut off
//	almanac_nats_cursor_seq                  the NATS publisher's acknowledged cursor
//	almanac_nats_publish_lag_events          head minus the cursor
//	almanac_nats_published_total             changes acknowledged by JetStream
//	almanac_nats_publish_errors_total        failed publishes and connection errors
//	almanac_nats_skipped_total               changes that could never be published (dead letters sent instead)
//	almanac_nats_forged_total                forged messages found in the stream under a change's Nats-Msg-Id
type Metrics struct {
	db *engine.DB

	mu   sync.Mutex
	subs map[*subscription]struct{}
	pub  *Publisher

	cutoffs       prometheus.Counter
	published     prometheus.Counter
	publishErrors prometheus.Counter
	skipped       prometheus.Counter
	forged        prometheus.Counter
}

// NewMetrics registers the feed's metrics with reg.
func NewMetrics(reg prometheus.Registerer, db *engine.DB) (*Metrics, error) {
	m := &Metrics{
		db:   db,
		subs: make(map[*subscription]struct{}),
		cutoffs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "almanac_feed_cutoffs_total", Help: "Slow feed subscribers cut off with RESOURCE_EXHAUSTED.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "almanac_nats_published_total", Help: "Changes acknowledged by JetStream.",
		}),
		publishErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "almanac_nats_publish_errors_total", Help: "Failed NATS publishes, stream setup and connection errors.",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "almanac_nats_skipped_total", Help: "Changes that could never be published; a dead letter went to " + DeadLetterSubject + " instead.",
		}),
		forged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "almanac_nats_forged_total", Help: "Messages in the stream under a change's Nats-Msg-Id that almanac did not publish.",
		}),
	}
	cs := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "almanac_events_appended_total", Help: "Events appended to the log (its head sequence number).",
		}, func() float64 { return float64(db.Head()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "almanac_feed_subscribers", Help: "Open ChangeFeed Subscribe streams.",
		}, func() float64 { return float64(m.Subscribers()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "almanac_nats_cursor_seq", Help: "Last sequence number JetStream acknowledged (all before it too).",
		}, func() float64 { return float64(m.publisherCursor()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "almanac_nats_publish_lag_events", Help: "Events appended but not yet acknowledged by JetStream.",
		}, func() float64 { return float64(m.PublishLag()) }),
		lagCollector{m},
		m.cutoffs, m.published, m.publishErrors, m.skipped, m.forged,
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("feed: register metrics: %w", err)
		}
	}
	return m, nil
}

// Subscribers returns the open Subscribe streams (0 for a nil m).
func (m *Metrics) Subscribers() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.subs)
}

// PublishLag returns the events appended but not yet acknowledged by
// JetStream (0 for a nil m, or without a publisher).
func (m *Metrics) PublishLag() uint64 {
	if m == nil {
		return 0
	}
	head := uint64(m.db.Head())
	return head - min(head, m.publisherCursor())
}

func (m *Metrics) publisherCursor() uint64 {
	m.mu.Lock()
	p := m.pub
	m.mu.Unlock()
	if p == nil {
		return uint64(m.db.Head())
	}
	return uint64(p.Cursor())
}

func (m *Metrics) setPublisher(p *Publisher) {
	if m != nil {
		m.mu.Lock()
		m.pub = p
		m.mu.Unlock()
	}
}

func (m *Metrics) addSubscription(s *subscription) {
	if m != nil {
		m.mu.Lock()
		m.subs[s] = struct{}{}
		m.mu.Unlock()
	}
}

func (m *Metrics) removeSubscription(s *subscription) {
	if m != nil {
		m.mu.Lock()
		delete(m.subs, s)
		m.mu.Unlock()
	}
}

func (m *Metrics) cutOff() {
	if m != nil {
		m.cutoffs.Inc()
	}
}

func (m *Metrics) publishedN(n int) {
	if m != nil {
		m.published.Add(float64(n))
	}
}

func (m *Metrics) skippedOne() {
	if m != nil {
		m.skipped.Inc()
	}
}

func (m *Metrics) forgedOne() {
	if m != nil {
		m.forged.Inc()
	}
}

func (m *Metrics) publishError() {
	if m != nil {
		m.publishErrors.Inc()
	}
}

// lagCollector reports each subscriber's lag at scrape time.
type lagCollector struct{ m *Metrics }

var lagDesc = prometheus.NewDesc("almanac_feed_subscriber_lag_events",
	"Events between the log's head and the last change sent to the subscriber.", []string{"subscriber"}, nil)

// Describe implements prometheus.Collector.
func (c lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lagDesc }

// Collect implements prometheus.Collector.
func (c lagCollector) Collect(ch chan<- prometheus.Metric) {
	head := c.m.db.Head()
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	for s := range c.m.subs {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(s.lag(head)), s.label())
	}
}

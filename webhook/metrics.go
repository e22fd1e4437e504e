package webhook

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhooks' Prometheus metrics. A nil *Metrics is valid
// and records nothing.
//
//	almanac_webhook_delivered_total             changes a receiver took (2xx)
//	almanac_webhook_failed_total                failed attempts (each retry counts)
//	almanac_webhook_paused_total                webhooks paused after --webhook-max-outage of failure
//	almanac_webhook_lag_events{webhook="id"}    events between the head and a running webhook's cursor
type Metrics struct {
	mu sync.Mutex
	d  *Deliverer

	deliveredC, failedC, pausedC prometheus.Counter
}

// NewMetrics registers the webhook metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		deliveredC: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "almanac_webhook_delivered_total", Help: "Changes a webhook receiver took (answered 2xx).",
		}),
		failedC: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "almanac_webhook_failed_total", Help: "Failed webhook attempts (timeouts, refused connections, non-2xx answers); each retry counts.",
		}),
		pausedC: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "almanac_webhook_paused_total", Help: "Webhooks paused after failing for --webhook-max-outage.",
		}),
	}
	for _, c := range []prometheus.Collector{m.deliveredC, m.failedC, m.pausedC, lagCollector{m}} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("webhook: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) attach(d *Deliverer) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.d = d
	m.mu.Unlock()
}

func (m *Metrics) delivered() {
	if m != nil {
		m.deliveredC.Inc()
	}
}

func (m *Metrics) failed() {
	if m != nil {
		m.failedC.Inc()
	}
}

func (m *Metrics) paused() {
	if m != nil {
		m.pausedC.Inc()
	}
}

var lagDesc = prometheus.NewDesc("almanac_webhook_lag_events",
	"Events appended after a running webhook's cursor (what it has yet to read or send).", []string{"webhook"}, nil)

// lagCollector reports the lag of each running webhook, by id.
type lagCollector struct{ m *Metrics }

func (c lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lagDesc }

func (c lagCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	d := c.m.d
	c.m.mu.Unlock()
	if d == nil {
		return
	}
	head := uint64(d.opts.DB.Head())
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, h := range d.running {
		cur := h.cursor.Load()
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(head-min(head, cur)), id)
	}
}

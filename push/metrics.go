package push

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the push sender's Prometheus metrics. A nil *Metrics is
// valid and records nothing.
//
//	almanac_push_sent_total              push messages the push service accepted
//	almanac_push_merged_total            changes folded into a message already waiting
//	almanac_push_failed_total            POSTs that failed (network, 429, 5xx, other 4xx)
//	almanac_push_pruned_total            registrations removed: gone at the push service (404/410) or expired
//	almanac_push_delivery_seconds        from the change's commit to the push service's answer
type Metrics struct {
	sent, merged, failed, pruned prometheus.Counter
	latency                      prometheus.Histogram
}

// NewMetrics registers the sender's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		sent:   prometheus.NewCounter(prometheus.CounterOpts{Name: "almanac_push_sent_total", Help: "WebDAV-Push messages the push service accepted."}),
		merged: prometheus.NewCounter(prometheus.CounterOpts{Name: "almanac_push_merged_total", Help: "Changes folded into a push message already waiting (--push-min-interval)."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "almanac_push_failed_total", Help: "Push POSTs that failed: network errors, 429, 5xx and other refusals."}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{Name: "almanac_push_pruned_total", Help: "Push registrations removed because the push service answered 404/410 or they expired."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "almanac_push_delivery_seconds", Help: "Time from a change's commit to the push service's acceptance of its message.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	for _, c := range []prometheus.Collector{m.sent, m.merged, m.failed, m.pruned, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("push: register metrics: %w", err)
		}
	}
	return m, nil
}

// Counters of Metrics.
const (
	metricSent = iota
	metricMerged
	metricFailed
	metricPruned
)

func (m *Metrics) add(which int) {
	if m == nil {
		return
	}
	[]prometheus.Counter{m.sent, m.merged, m.failed, m.pruned}[which].Inc()
}

func (m *Metrics) observe(seconds float64) {
	if m != nil {
		m.latency.Observe(seconds)
	}
}

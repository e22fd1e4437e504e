package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func init() {
	registerServeHook(ServeHook{Name: "metrics", Flags: func(fs *flag.FlagSet) StartFunc {
		var listen string
		fs.StringVar(&listen, "metrics-listen", "", "`address` of a listener for /metrics alone (keeps it off a public --listen); empty: /metrics on --listen; off: no /metrics")
		return func(ctx context.Context, env *ServeEnv) (func(context.Context) error, error) {
			return startMetrics(env, listen)
		}
	}})
}

// metricsScrapes bounds the /metrics requests served at once (more get
// 503) and scrapeTimeout how long one may take: scrapes may come without
// credentials, and each gathers every metric.
const (
	metricsScrapes = 4
	scrapeTimeout  = 10 * time.Second
)

// metricsAddrs maps an open engine to the address of its --metrics-listen
// listener, for tests.
var metricsAddrs sync.Map // *engine.DB -> string

// newRegistry returns the server's metrics registry with the Go runtime's
// and the process's collectors; serve hooks add theirs (ServeEnv.Metrics).
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// startMetrics registers the engine's and the login limiter's collectors
// and serves /metrics on --listen or on its own listener.
func startMetrics(env *ServeEnv, listen string) (func(context.Context) error, error) {
	if err := env.Metrics.Register(engineCollector{env.DB, env.Logger}); err != nil {
		return nil, fmt.Errorf("register engine metrics: %w", err)
	}
	if env.Auth != nil {
		if err := registerAuthMetrics(env.Metrics, env.Auth); err != nil {
			return nil, err
		}
	}
	h := promhttp.HandlerFor(env.Metrics, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(env.Logger.Handler(), slog.LevelError),
		MaxRequestsInFlight: metricsScrapes,
		Timeout:             scrapeTimeout,
	})
	switch listen {
	case "off":
		return nil, nil
	case "":
		env.Mux.Handle("GET /metrics", h)
		return nil, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, &ConfigError{Field: "metrics-listen", Err: err}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      2 * scrapeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(env.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			env.Logger.Error("metrics listener failed", "err", err)
		}
	}()
	env.Logger.Info("serving /metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	metricsAddrs.Store(env.DB, ln.Addr().String())
	return func(ctx context.Context) error {
		metricsAddrs.Delete(env.DB)
		return srv.Shutdown(ctx)
	}, nil
}

// davMethods are the methods that get their own label value in the HTTP
// metrics besides promhttp's standard ones; any other is "unknown", so a
// client cannot grow the label set.
var davMethods = []string{"PROPFIND", "PROPPATCH", "MKCOL", "MKCALENDAR", "REPORT", "COPY", "MOVE", "LOCK", "UNLOCK", "ACL"}

// instrumentHTTP counts every request h serves: by method and status code,
// its latency and response size by method, and those in flight. No label
// carries a path or a user name.
func instrumentHTTP(reg prometheus.Registerer, h http.Handler) (http.Handler, error) {
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "almanac_http_requests_in_flight", Help: "HTTP requests being served.",
	})
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "almanac_http_requests_total", Help: "HTTP requests answered, by method and status code.",
	}, []string{"method", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "almanac_http_request_duration_seconds", Help: "Time from a request's headers to its handler's return, by method.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"method"})
	size := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "almanac_http_response_size_bytes", Help: "Bytes of response bodies written, by method.",
		Buckets: prometheus.ExponentialBuckets(256, 4, 9), // 256 B to 16 MiB
	}, []string{"method"})
	for _, c := range []prometheus.Collector{inFlight, requests, duration, size} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register HTTP metrics: %w", err)
		}
	}
	m := promhttp.WithExtraMethods(davMethods...)
	return promhttp.InstrumentHandlerInFlight(inFlight,
		promhttp.InstrumentHandlerDuration(duration,
			promhttp.InstrumentHandlerCounter(requests,
				promhttp.InstrumentHandlerResponseSize(size, h, m), m), m)), nil
}

// registerAuthMetrics exports the verifier's failed logins by reason, and
// the logins refused because it was busy.
func registerAuthMetrics(reg prometheus.Registerer, v *auth.Verifier) error {
	const name, help = "almanac_auth_failures_total", "Failed logins by reason: bad_credentials (unknown user, wrong password or disabled account, deliberately not told apart), empty_password, rate_limited (answered 429 unchecked)."
	for reason, read := range map[string]func(auth.Failures) uint64{
		"bad_credentials": func(f auth.Failures) uint64 { return f.BadCredentials },
		"empty_password":  func(f auth.Failures) uint64 { return f.EmptyPassword },
		"rate_limited":    func(f auth.Failures) uint64 { return f.RateLimited },
	} {
		c := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"reason": reason}},
			func() float64 { return float64(read(v.Failures())) })
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register auth metrics: %w", err)
		}
	}
	busy := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "almanac_auth_busy_total",
		Help: "Logins answered 503 because no password-hashing turn came free within --login-hash-wait, or --login-max-hash-waiters logins already waited (no failed logins)."},
		func() float64 { return float64(v.Busy()) })
	if err := reg.Register(busy); err != nil {
		return fmt.Errorf("register auth metrics: %w", err)
	}
	return nil
}

// engineCollector reads engine.DB.Stats once per scrape: Pebble's
// compactions, levels, memtables, block cache, write stalls and disk
// usage, the log's size, and the writer's commit histograms.
type engineCollector struct {
	db  *engine.DB
	log *slog.Logger
}

// engineMetric is one metric read from engine.Stats.
type engineMetric struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(*engine.Stats) float64
}

func newEngineMetric(name, help string, typ prometheus.ValueType, value func(*engine.Stats) float64) engineMetric {
	return engineMetric{prometheus.NewDesc(name, help, nil, nil), typ, value}
}

var (
	engineMetrics = []engineMetric{
		newEngineMetric("almanac_log_bytes", "Estimated bytes of the event log's tables on disk (events still in the memtable not counted).",
			prometheus.GaugeValue, func(s *engine.Stats) float64 { return float64(s.LogBytes) }),
		newEngineMetric("almanac_pebble_disk_bytes", "Bytes the database takes on disk: tables, WAL, manifest, obsolete files not yet deleted.",
			prometheus.GaugeValue, func(s *engine.Stats) float64 { return float64(s.DiskBytes) }),
		newEngineMetric("almanac_pebble_wal_bytes", "Physical size of the write-ahead log files.",
			prometheus.GaugeValue, func(s *engine.Stats) float64 { return float64(s.WALBytes) }),
		newEngineMetric("almanac_pebble_compactions_total", "Compactions since the database opened.",
			prometheus.CounterValue, func(s *engine.Stats) float64 { return float64(s.Compactions) }),
		newEngineMetric("almanac_pebble_compactions_running", "Compactions in progress.",
			prometheus.GaugeValue, func(s *engine.Stats) float64 { return float64(s.CompactionsRunning) }),
		newEngineMetric("almanac_pebble_compaction_debt_bytes", "Estimated bytes still to compact for the tree to be in shape.",
			prometheus.GaugeValue, func(s *engine.Stats) float64 { return float64(s.CompactionDebt) }),
		newEngineMetric("almanac_pebble_flushes_total", "Memtables flushed to level 0 since the database opened.",
			prometheus.CounterValue, func(s *engine.Stats) float64 { return float64(s.Flushes) }),
		newEngineMetric("almanac_pebble_l0_files", "Tables in level 0; many means compactions lag and reads slow down (Pebble stalls writes at 1000).",
			prometheus.GaugeValue, func(s *engine.Stats) float64 { return float64(s.L0Files) }),
		newEngineMetric("almanac_pebble_l0_sublevels", "Sublevels of level 0 (its read amplification).",
			prometheus.GaugeValue, func(s *engine.Stats) float64 { return float64(s.L0Sublevels) }),
		newEngineMetric("almanac_pebble_memtable_bytes", "Bytes allocated by the memtables.",
			prometheus.GaugeValue, func(s *engine.Stats) float64 { return float64(s.MemTableBytes) }),
		newEngineMetric("almanac_pebble_memtables", "Memtables, the one written and those waiting for their flush.",
			prometheus.GaugeValue, func(s *engine.Stats) float64 { return float64(s.MemTables) }),
		newEngineMetric("almanac_pebble_block_cache_bytes", "Bytes in use in the block cache.",
			prometheus.GaugeValue, func(s *engine.Stats) float64 { return float64(s.BlockCacheBytes) }),
		newEngineMetric("almanac_pebble_block_cache_hits_total", "Block cache hits since the database opened.",
			prometheus.CounterValue, func(s *engine.Stats) float64 { return float64(s.BlockCacheHits) }),
		newEngineMetric("almanac_pebble_block_cache_misses_total", "Block cache misses (reads from disk) since the database opened.",
			prometheus.CounterValue, func(s *engine.Stats) float64 { return float64(s.BlockCacheMisses) }),
		newEngineMetric("almanac_pebble_write_stalls_total", "Times Pebble delayed writes because memtables or level 0 were full.",
			prometheus.CounterValue, func(s *engine.Stats) float64 { return float64(s.WriteStalls) }),
		newEngineMetric("almanac_pebble_write_stall_seconds_total", "Total time writes were delayed by write stalls, the one going on included.",
			prometheus.CounterValue, func(s *engine.Stats) float64 { return s.WriteStallTime.Seconds() }),
		newEngineMetric("almanac_engine_head_seq", "Sequence number of the last event this node holds durably (in a cluster: has applied from the log).",
			prometheus.GaugeValue, func(s *engine.Stats) float64 { return float64(s.Head) }),
		newEngineMetric("almanac_cluster_log_conflicts_total", "Appends to the cluster's log another node won (the group was checked and appended again).",
			prometheus.CounterValue, func(s *engine.Stats) float64 { return float64(s.LogConflicts) }),
		newEngineMetric("almanac_cluster_append_retries_total", "Appends to the cluster's log sent again after an attempt got no answer within a second (a stream leader that died, a lost acknowledgement).",
			prometheus.CounterValue, func(s *engine.Stats) float64 { return float64(s.LogRetries) }),
		newEngineMetric("almanac_cluster_log_head_seq", "The cluster log's last sequence number when this node last looked (every second; 0 on a single node).",
			prometheus.GaugeValue, func(s *engine.Stats) float64 { return float64(s.LogHead) }),
		newEngineMetric("almanac_cluster_lag_events", "Events of the cluster's log this node has not applied yet (its reads lag by as many).",
			prometheus.GaugeValue, func(s *engine.Stats) float64 { return float64(s.LogHead - min(s.Head, s.LogHead)) }),
		newEngineMetric("almanac_cluster_log_reachable", "1 when this node's last look reached the cluster's log, 0 when not (no quorum: writes are refused with 503).",
			prometheus.GaugeValue, func(s *engine.Stats) float64 {
				if s.LogError != "" {
					return 0
				}
				return 1
			}),
	}
	commitEventsDesc = prometheus.NewDesc("almanac_engine_commit_events",
		"Events per group commit: how many writes one fsync made durable.", nil, nil)
	commitSecondsDesc = prometheus.NewDesc("almanac_engine_commit_duration_seconds",
		"Time from applying a group commit's batch to its fsync completing.", nil, nil)
	appendSecondsDesc = prometheus.NewDesc("almanac_cluster_append_duration_seconds",
		"Time an append to the cluster's log took until a quorum stored it (publish latency).", nil, nil)
)

// Describe implements prometheus.Collector.
func (c engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range engineMetrics {
		ch <- m.desc
	}
	ch <- commitEventsDesc
	ch <- commitSecondsDesc
	ch <- appendSecondsDesc
}

// Collect implements prometheus.Collector. A closed engine reports
// nothing.
func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	s, err := c.db.Stats()
	if err != nil {
		if !errors.Is(err, engine.ErrClosed) {
			c.log.Error("engine metrics", "err", err)
		}
		return
	}
	for _, m := range engineMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.value(&s))
	}
	ch <- constHistogram(commitEventsDesc, s.CommitEvents)
	ch <- constHistogram(commitSecondsDesc, s.CommitSeconds)
	ch <- constHistogram(appendSecondsDesc, s.AppendSeconds)
}

func constHistogram(d *prometheus.Desc, h engine.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Buckets))
	for _, b := range h.Buckets {
		buckets[b.UpperBound] = b.Count
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum, buckets)
}

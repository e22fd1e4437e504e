package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs url and parses the Prometheus text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return fams
}

// sample returns the value of fams[name] whose labels are labels (name,
// value pairs), and whether there is one: a counter's or gauge's value, a
// histogram's count.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels)/2 {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// makeTraffic sends requests of every kind the metrics tell apart: DAV
// methods answered 2xx, a request without credentials, an unknown user, a
// wrong password, and a method no one knows.
func makeTraffic(t *testing.T, srv *testServer) {
	t.Helper()
	if resp, _ := srv.Do(t, "PUT", "/dav/home/alice/calendar/m.ics", "alice", feedTestEvent, "Content-Type", "text/calendar"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	if resp, _ := srv.Do(t, "PROPFIND", "/dav/home/alice/calendar/", "alice", "", "Depth", "1"); resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("PROPFIND: %s", resp.Status)
	}
	if resp, _ := srv.Do(t, "GET", "/dav/home/alice/calendar/m.ics", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET without credentials: %s", resp.Status)
	}
	for _, u := range []struct{ name, password string }{{"mallory", testPassword}, {"alice", "wrong"}} {
		req, _ := http.NewRequest("GET", srv.BaseURL+"/dav/home/alice/calendar/m.ics", nil)
		req.SetBasicAuth(u.name, u.password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET as %s with a wrong password: %s", u.name, resp.Status)
		}
	}
	srv.Do(t, "BREW", "/dav/home/alice/", "alice", "")
}

// TestServeMetrics: /metrics counts requests by method and status code
// (unknown methods under "unknown", no path or user in any label), their
// latency and response sizes, the scrape itself in flight, failed logins
// by reason, the writer's commits (every event in exactly one) and the
// database's disk usage.
func TestServeMetrics(t *testing.T) {
	srv := startServer(t)
	makeTraffic(t, srv)
	fams := scrape(t, srv.BaseURL+"/metrics")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"almanac_http_requests_total", []string{"method", "put", "code", "201"}, 1},
		{"almanac_http_requests_total", []string{"method", "propfind", "code", "207"}, 1},
		{"almanac_http_requests_total", []string{"method", "get", "code", "401"}, 3},
		{"almanac_http_requests_total", []string{"method", "unknown", "code", "405"}, 1}, // BREW
		{"almanac_http_request_duration_seconds", []string{"method", "get"}, 3},
		{"almanac_http_response_size_bytes", []string{"method", "propfind"}, 1},
		{"almanac_http_requests_in_flight", nil, 1}, // this scrape
		{"almanac_auth_failures_total", []string{"reason", "bad_credentials"}, 2},
		{"almanac_auth_failures_total", []string{"reason", "empty_password"}, 0},
		{"almanac_auth_failures_total", []string{"reason", "rate_limited"}, 0},
		{"almanac_auth_busy_total", nil, 0},
	} {
		if got, ok := sample(fams, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "almanac_http_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if (l.GetName() != "method" && l.GetName() != "code") || strings.Contains(l.GetValue(), "/") || strings.Contains(l.GetValue(), "alice") {
					t.Errorf("%s has label %s=%q: only method and code, no path or user", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	commits := fams["almanac_engine_commit_events"].GetMetric()
	if len(commits) != 1 {
		t.Fatalf("almanac_engine_commit_events: %v", fams["almanac_engine_commit_events"])
	}
	h := commits[0].GetHistogram()
	if head := srv.DB.Head(); h.GetSampleCount() == 0 || uint64(h.GetSampleSum()) != uint64(head) {
		t.Errorf("commit events: %d commits, %v events; want every one of the %d events of the log", h.GetSampleCount(), h.GetSampleSum(), head)
	}
	if got, _ := sample(fams, "almanac_engine_commit_duration_seconds"); got != float64(h.GetSampleCount()) {
		t.Errorf("commit durations: %v observations, want one per commit (%d)", got, h.GetSampleCount())
	}
	for _, name := range []string{"almanac_pebble_disk_bytes", "almanac_pebble_memtable_bytes", "almanac_pebble_wal_bytes"} {
		if got, ok := sample(fams, name); !ok || got <= 0 {
			t.Errorf("%s = %v (found %v), want > 0", name, got, ok)
		}
	}
	for _, name := range []string{"almanac_log_bytes", "almanac_pebble_l0_files", "almanac_pebble_compactions_total", "almanac_pebble_write_stalls_total",
		"almanac_pebble_block_cache_hits_total", "almanac_events_appended_total", "almanac_cluster_append_retries_total", "go_goroutines"} {
		if _, ok := sample(fams, name); !ok {
			t.Errorf("%s missing", name)
		}
	}
}

// TestMetricsListen: --metrics-listen moves /metrics to its own listener
// (and off --listen), off removes it, and a taken address names the flag.
func TestMetricsListen(t *testing.T) {
	srv := startServer(t, "--metrics-listen=127.0.0.1:0")
	if resp, _ := srv.Do(t, "GET", "/metrics", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on --listen with --metrics-listen: %s, want 404", resp.Status)
	}
	addr, ok := metricsAddrs.Load(srv.DB)
	if !ok {
		t.Fatal("no metrics listener")
	}
	if _, ok := sample(scrape(t, "http://"+addr.(string)+"/metrics"), "almanac_pebble_disk_bytes"); !ok {
		t.Error("the metrics listener lacks almanac_pebble_disk_bytes")
	}
	srv.Stop(t)
	if _, err := http.Get("http://" + addr.(string) + "/metrics"); err == nil {
		t.Error("the metrics listener still answers after the server stopped")
	}

	off := startServer(t, "--metrics-listen=off")
	if resp, _ := off.Do(t, "GET", "/metrics", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics with --metrics-listen=off: %s, want 404", resp.Status)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	m := NewMain()
	m.Getenv = testGetenv(nil)
	logs := &syncBuffer{}
	m.Stdout, m.LogOutput = logs, logs
	m.noFirstRun = true // no admin: its cost-10 hash is CPU this test does not need
	if err := m.ParseFlags(append([]string{"--listen=127.0.0.1:0", "--data=" + t.TempDir(), "--metrics-listen=" + taken.Addr().String()}, hookTestFlags(nil)...)); err != nil {
		t.Fatal(err)
	}
	err = m.Run(context.Background())
	if err == nil {
		_ = m.Close(context.Background())
		t.Fatal("serve with a taken --metrics-listen address started")
	}
	if !strings.Contains(err.Error(), "metrics-listen") {
		t.Errorf("serve with a taken --metrics-listen address: %v, want the flag named", err)
	}
}

// TestGrafanaDashboard reads packaging/grafana-dashboard.json: a Grafana
// dashboard (schemaVersion, uid, panels laid out on the grid, a Prometheus
// data source variable) whose every query names metrics that a running
// server exports, so that renaming a metric breaks this test and not the
// operators' dashboards.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile("../../packaging/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	}
	type panel struct {
		ID         int                       `json:"id"`
		Type       string                    `json:"type"`
		Title      string                    `json:"title"`
		Datasource json.RawMessage           `json:"datasource"`
		GridPos    *struct{ H, W, X, Y int } `json:"gridPos"`
		Targets    []target                  `json:"targets"`
	}
	var d struct {
		UID           string  `json:"uid"`
		Title         string  `json:"title"`
		SchemaVersion int     `json:"schemaVersion"`
		Panels        []panel `json:"panels"`
		Templating    struct {
			List []struct{ Name, Type, Query any } `json:"list"`
		} `json:"templating"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 || len(d.Panels) == 0 {
		t.Fatalf("dashboard uid %q title %q schemaVersion %d with %d panels: want all set, schemaVersion >= 36", d.UID, d.Title, d.SchemaVersion, len(d.Panels))
	}
	hasDS := false
	for _, v := range d.Templating.List {
		hasDS = hasDS || (v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus")
	}
	if !hasDS {
		t.Error("no Prometheus data source variable named datasource")
	}

	srv := startServer(t)
	makeTraffic(t, srv)
	fams := scrape(t, srv.BaseURL+"/metrics")
	exported := func(name string) bool {
		if fams[name] != nil {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if f := fams[strings.TrimSuffix(name, suffix)]; strings.HasSuffix(name, suffix) && f != nil && f.GetType() == dto.MetricType_HISTOGRAM {
				return true
			}
		}
		return false
	}
	metricName := regexp.MustCompile(`\b(almanac|go|process)_[a-zA-Z0-9_]+`)
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v, want a width within 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 || !strings.Contains(string(p.Datasource), "${datasource}") {
			t.Errorf("panel %q: %d targets, datasource %s; want queries on ${datasource}", p.Title, len(p.Targets), p.Datasource)
		}
		for _, tg := range p.Targets {
			names := metricName.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q query %s names no almanac_, go_ or process_ metric: %s", p.Title, tg.RefID, tg.Expr)
			}
			for _, n := range names {
				if !exported(n) {
					t.Errorf("panel %q query %s: %s is not exported by the server", p.Title, tg.RefID, n)
				}
			}
			queries++
		}
	}
	t.Logf("%d panels, %d queries checked", len(d.Panels), queries)
}

package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkInstrumentHTTP measures what the HTTP metrics add to a request:
// "bare" serves a small response without them, "instrumented" through
// instrumentHTTP; the difference is the middleware's cost per request.
func BenchmarkInstrumentHTTP(b *testing.B) {
	body := []byte("<multistatus/>")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMultiStatus)
		_, _ = w.Write(body)
	})
	ih, err := instrumentHTTP(prometheus.NewRegistry(), h)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"bare", h}, {"instrumented", ih}} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("PROPFIND", "/dav/home/alice/calendar/", nil)
			b.ReportAllocs()
			w := httptest.NewRecorder()
			for b.Loop() {
				w.Body.Reset()
				c.h.ServeHTTP(w, req)
			}
		})
	}
}

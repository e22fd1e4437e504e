package dav

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// discard is a ResponseWriter that drops the body.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

func serve(b *testing.B, h *Handler, r *http.Request, want int) {
	d := &discard{h: http.Header{}}
	h.ServeHTTP(d, r)
	if d.code != want {
		b.Fatalf("status %d, want %d", d.code, want)
	}
}

func BenchmarkPropfindDepth1_10k(b *testing.B) {
	h, db := mustHandler(b, Options{})
	mustObjects(b, h, db, 10000)
	b.ReportAllocs()
	for b.Loop() {
		serve(b, h, propfindRequest("1"), http.StatusMultiStatus)
	}
}

func BenchmarkMultiget100(b *testing.B) {
	h, db := mustHandler(b, Options{})
	mustObjects(b, h, db, 1000)
	var body strings.Builder
	body.WriteString(`<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>`)
	for i := range 100 {
		fmt.Fprintf(&body, "<D:href>/dav/home/alice/calendar/ev%06d.ics</D:href>", i*7)
	}
	body.WriteString("</C:calendar-multiget>")
	for _, gzip := range []bool{false, true} {
		b.Run(fmt.Sprint("gzip=", gzip), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest("REPORT", "/dav/home/alice/calendar/", strings.NewReader(body.String()))
				r.SetBasicAuth("alice", "alice")
				if gzip {
					r.Header.Set("Accept-Encoding", "gzip")
				}
				serve(b, h, r, http.StatusMultiStatus)
			}
		})
	}
}

func syncRequest(token string) *http.Request {
	r := httptest.NewRequest("REPORT", "/dav/home/alice/calendar/", strings.NewReader(
		`<D:sync-collection xmlns:D="DAV:"><D:sync-token>`+token+`</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`))
	r.SetBasicAuth("alice", "alice")
	return r
}

// BenchmarkSyncCollection measures an initial sync and a sync after 10
// changes; the latter must not grow with the collection.
func BenchmarkSyncCollection(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		h, db := mustHandler(b, Options{})
		mustObjects(b, h, db, n)
		b.Run(fmt.Sprintf("initial/%d", n), func(b *testing.B) {
			for b.Loop() {
				serve(b, h, syncRequest(""), http.StatusMultiStatus)
			}
		})
		c, err := db.Collection("/dav/home/alice/calendar/")
		if err != nil {
			b.Fatal(err)
		}
		for i := range 10 {
			uid := fmt.Sprintf("ev%06d", i*3)
			if _, err := db.PutObject(context.Background(), testMeta, c.Path, uid+".ics", testEvent(uid), engine.PutOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("after10/%d", n), func(b *testing.B) {
			for b.Loop() {
				serve(b, h, syncRequest(c.SyncToken), http.StatusMultiStatus)
			}
		})
	}
}

func BenchmarkPut(b *testing.B) {
	h, _ := mustHandler(b, Options{})
	if err := h.ensureHome(context.Background(), "alice", testMeta); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		uid := fmt.Sprintf("p%d", i)
		r := httptest.NewRequest("PUT", "/dav/home/alice/calendar/"+uid+".ics", io.NopCloser(strings.NewReader(string(testEvent(uid)))))
		r.Header.Set("Content-Type", "text/calendar")
		r.SetBasicAuth("alice", "alice")
		serve(b, h, r, http.StatusCreated)
	}
}

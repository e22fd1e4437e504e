package webhook

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/almanac/almanac/engine"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkDeliver measures changes delivered per second to one fast
// receiver on loopback (it answers 204 at once): the backlog is written
// first, the clock runs from the deliverer's start to the last change's
// arrival. Report the changes/s figure.
func BenchmarkDeliver(b *testing.B) {
	db, err := engine.Open("db", &engine.Options{FS: vfs.NewMem()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	m := engine.Meta{Actor: "alice"}
	if _, err := db.CreateCollection(bg, m, engine.CollectionSpec{Path: home("alice"), Kind: engine.KindHome, Owner: "alice"}); err != nil {
		b.Fatal(err)
	}
	if _, err := db.CreateCollection(bg, m, engine.CollectionSpec{Path: home("alice") + "calendar/", Kind: engine.KindCalendar, Owner: "alice"}); err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		if got.Add(1) == int64(b.N) {
			close(all)
		}
	}))
	defer srv.Close()
	if _, _, err := db.CreateWebhook(bg, m, engine.Webhook{URL: srv.URL}); err != nil {
		b.Fatal(err)
	}
	for i := range b.N {
		mustPut(b, db, "alice", fmt.Sprintf("e%d.ics", i))
	}
	b.ResetTimer()
	_, stop := start(b, Options{DB: db})
	<-all
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
}

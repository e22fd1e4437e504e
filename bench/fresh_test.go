package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fixedLoader is a loader whose data the stub server already holds.
type fixedLoader struct{ coll string }

func (l fixedLoader) Load(_ context.Context, _ *Client, n int) (Dataset, error) {
	return Dataset{Coll: l.coll, N: n}, nil
}

// TestFreshFootprintBudget runs FreshFootprint against a server that
// lists its members and then never answers a multiget past the third (as
// Xandikos's first sync of 10,000 events did for 17 minutes): the row
// must come back within its budget, marked timed out, saying where it
// stopped, and render as such in the table; without the budget the call
// would block as long as the server does.
func TestFreshFootprintBudget(t *testing.T) {
	const n, coll = 500, "/cal/"
	stalled := make(chan struct{})
	var multigets int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "sync-collection") {
			var b strings.Builder
			b.WriteString(`<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">`)
			for i := range n {
				fmt.Fprintf(&b, `<d:response><d:href>%s%d.ics</d:href><d:propstat><d:prop><d:getetag>"%d"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`, coll, i, i)
			}
			b.WriteString(`<d:sync-token>t1</d:sync-token></d:multistatus>`)
			w.WriteHeader(207)
			io.WriteString(w, b.String())
			return
		}
		if multigets++; multigets > 3 {
			select { // stall until the client gives up
			case <-r.Context().Done():
			case <-stalled:
			}
			return
		}
		w.WriteHeader(207)
		io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"></d:multistatus>`)
	}))
	defer srv.Close()
	defer close(stalled)
	c := NewClient(Target{Name: "stub", BaseURL: srv.URL}, 1)
	rs, err := FreshFootprint(context.Background(), c, fixedLoader{coll}, n, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("FreshFootprint: %v", err)
	}
	if len(rs) != 1 {
		t.Fatalf("got %d results, want the one timed-out row: %+v", len(rs), rs)
	}
	r := rs[0]
	if !r.Timeout || r.Errors != 1 || r.Scenario != "fresh-rss" || r.N != n || r.RSSKB != 0 {
		t.Errorf("result %+v, want a timed-out fresh-rss row without figures", r)
	}
	if !strings.Contains(r.FirstError, "timed out after") || !regexp.MustCompile(`multigets \(\d+ of 500 fetched\)`).MatchString(r.FirstError) {
		t.Errorf("first error %q does not say it timed out and where", r.FirstError)
	}
	table := Compare([]Result{r, {Server: "other", Scenario: "fresh-rss", N: n, RSSKB: 1 << 10}}, "other")
	if !strings.Contains(table, "| fresh-rss | 500 | 0 | RSS MB | timed out after ") {
		t.Errorf("table does not show the timeout:\n%s", table)
	}
	if !strings.Contains(problems([]Result{r}), "timed out after") {
		t.Errorf("problems do not list the timeout")
	}
}

// TestFreshFootprintOuterCancel: a caller's own cancellation is an error,
// not a timed-out row.
func TestFreshFootprintOuterCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c := NewClient(Target{Name: "stub", BaseURL: srv.URL}, 1)
	rs, err := FreshFootprint(ctx, c, fixedLoader{"/cal/"}, 10, time.Hour)
	if err == nil || len(rs) != 0 {
		t.Errorf("got %v, %+v; want an error and no rows", err, rs)
	}
}

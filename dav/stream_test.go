package dav

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// chunkRecorder records the size of every Write: a handler that built the
// whole answer first would write it in one large piece.
type chunkRecorder struct {
	*httptest.ResponseRecorder
	writes, total, largest int
}

func (c *chunkRecorder) Write(p []byte) (int, error) {
	c.writes++
	c.total += len(p)
	c.largest = max(c.largest, len(p))
	return c.ResponseRecorder.Write(p)
}

// mustObjects fills alice's default calendar with n events.
func mustObjects(tb testing.TB, h *Handler, db *engine.DB, n int) {
	tb.Helper()
	ctx := context.Background()
	if err := h.ensureHome(ctx, "alice", testMeta); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		uid := fmt.Sprintf("ev%06d", i)
		if _, err := db.PutObject(ctx, testMeta, "/dav/home/alice/calendar/", uid+".ics", testEvent(uid), engine.PutOptions{}); err != nil {
			tb.Fatal(err)
		}
	}
}

func propfindRequest(depth string) *http.Request {
	r := httptest.NewRequest("PROPFIND", "/dav/home/alice/calendar/", strings.NewReader(
		`<propfind xmlns="DAV:"><prop><getetag/><getcontenttype/><resourcetype/></prop></propfind>`))
	r.Header.Set("Depth", depth)
	r.SetBasicAuth("alice", "alice")
	return r
}

// TestPropfindStreams checks that a Depth 1 PROPFIND reaches the client in
// bounded pieces rather than as one buffered document.
func TestPropfindStreams(t *testing.T) {
	h, db := mustHandler(t, Options{})
	const n = 3000
	mustObjects(t, h, db, n)
	rec := &chunkRecorder{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(rec, propfindRequest("1"))
	if rec.Code != http.StatusMultiStatus {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got := strings.Count(rec.Body.String(), "<D:response>"); got != n+1 {
		t.Fatalf("got %d responses, want %d", got, n+1)
	}
	const piece = 192 << 10 // davxml's writer buffer
	if rec.largest > piece || rec.writes < rec.total/piece {
		t.Fatalf("answer of %d bytes written in %d writes, largest %d: not streamed", rec.total, rec.writes, rec.largest)
	}
}

package dav

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// brokenBody gives some bytes of a body, then err: a client that aborts
// its upload.
type brokenBody struct {
	data io.Reader
	err  error
}

func (b *brokenBody) Read(p []byte) (int, error) {
	n, err := b.data.Read(p)
	if err == io.EOF {
		return n, b.err
	}
	return n, err
}

// TestPutBodyAborted: a PUT whose body breaks off is answered 400 (499
// when the client is gone) and is not logged as an internal error
// (issue 13: a client aborting a PUT body was logged as a 500).
func TestPutBodyAborted(t *testing.T) {
	var logs bytes.Buffer
	h, _ := mustHandler(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err := h.ensureHome(context.Background(), "alice", testMeta); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		cancel bool
		want   int
	}{
		{"UnexpectedEOF", false, http.StatusBadRequest},
		{"ClientGone", true, StatusClientClosedRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs.Reset()
			body := &brokenBody{data: strings.NewReader("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"), err: io.ErrUnexpectedEOF}
			req := httptest.NewRequest("PUT", "/dav/home/alice/calendar/a.ics", body)
			req.ContentLength = 1000
			req.SetBasicAuth("alice", "alice")
			req.Header.Set("Content-Type", "text/calendar")
			if c.cancel {
				ctx, cancel := context.WithCancel(req.Context())
				cancel()
				req = req.WithContext(ctx)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Errorf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
			}
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("logged as an error:\n%s", logs.String())
			}
		})
	}
}

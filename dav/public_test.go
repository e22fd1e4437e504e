package dav

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestPublicLink: the owner's POST ?share-link makes a link; anyone reads
// the calendar at it without credentials, with its ETag, 304 for
// If-None-Match and If-Modified-Since, gzip on request; a change changes
// the ETag; a free-busy link serves a VFREEBUSY and no event details; a
// sharee cannot make links; a revoked or made-up token and other methods
// get 404 and 405.
func TestPublicLink(t *testing.T) {
	w := mustAccessWorld(t)
	ctx := context.Background()
	rec := w.do("alice", http.MethodPost, "/dav/home/alice/calendar/?share-link", "")
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST ?share-link: %d %s", rec.Code, rec.Body)
	}
	link := rec.Header().Get("Location")
	if !strings.HasPrefix(link, "/pub/") || !strings.HasSuffix(link, ".ics") || !strings.Contains(rec.Body.String(), "webcal://") {
		t.Fatalf("Location %q, body %q", link, rec.Body)
	}
	get := func(path string, hdr ...string) *http.Response {
		return w.do("", http.MethodGet, path, "", hdr...).Result()
	}
	resp := get(link)
	body, _ := io.ReadAll(resp.Body)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "UID:a") || etag == "" || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("GET link: %d %q %q", resp.StatusCode, etag, body)
	}
	if resp := get(link, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
	if resp := get(link, "If-Modified-Since", resp.Header.Get("Last-Modified")); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-Modified-Since: %d", resp.StatusCode)
	}
	resp = get(link, "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); !strings.Contains(string(b), "UID:a") {
		t.Fatalf("gzip body %q", b)
	}
	if _, err := w.db.PutObject(ctx, testMeta, "/dav/home/alice/calendar/", "c.ics", testEvent("c"), engine.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if resp := get(link, "If-None-Match", etag); resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag {
		t.Fatalf("after a change: %d %q", resp.StatusCode, resp.Header.Get("ETag"))
	}

	rec = w.do("alice", http.MethodPost, "/dav/home/alice/calendar/?share-link&freebusy", "")
	fb := get(rec.Header().Get("Location"))
	b, _ := io.ReadAll(fb.Body)
	if fb.StatusCode != http.StatusOK || !strings.Contains(string(b), "BEGIN:VFREEBUSY") || strings.Contains(string(b), "SUMMARY") {
		t.Fatalf("free-busy link: %d %s", fb.StatusCode, b)
	}

	if rec := w.do("bob", http.MethodPost, "/dav/home/bob/alice-calendar/?share-link", ""); rec.Code != http.StatusForbidden {
		t.Fatalf("sharee's link: %d %s", rec.Code, rec.Body)
	}
	if rec := w.do("erin", http.MethodPost, "/dav/home/alice/calendar/?share-link", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("stranger's link: %d %s", rec.Code, rec.Body)
	}
	missing := get("/pub/" + strings.Repeat("A", 43) + ".ics")
	mb, _ := io.ReadAll(missing.Body)
	if missing.StatusCode != http.StatusNotFound {
		t.Fatalf("made-up token: %d", missing.StatusCode)
	}
	for _, p := range []string{"/pub/x", "/pub/../dav/.ics", "/pub/" + strings.Repeat("A", 100) + ".ics", strings.TrimSuffix(link, ".ics") + ".vcf"} {
		if resp := get(p); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET %s: %d", p, resp.StatusCode)
		}
	}
	if rec := w.do("", http.MethodPut, link, "x"); rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("PUT link: %d", rec.Code)
	}
	token := strings.TrimSuffix(strings.TrimPrefix(link, "/pub/"), ".ics")
	if err := w.db.RevokeLink(ctx, testMeta, "/dav/home/alice/calendar/", token); err != nil {
		t.Fatal(err)
	}
	revoked := get(link)
	rb, _ := io.ReadAll(revoked.Body)
	if revoked.StatusCode != http.StatusNotFound || string(rb) != string(mb) {
		t.Fatalf("revoked link: %d %q, want the 404 of a made-up token %q", revoked.StatusCode, rb, mb)
	}
}

// FuzzPublicPath requests fuzzed paths under /pub/ of a store with one
// link: none may answer 5xx, and none but the link's own may answer 200.
func FuzzPublicPath(f *testing.F) {
	for _, s := range []string{"x.ics", "AAAA.ics", "a.b.ics", "%00.ics", ".ics", "a/b.ics", strings.Repeat("z", 70) + ".vcf"} {
		f.Add(s)
	}
	h, db := mustHandler(f, Options{})
	ctx := context.Background()
	if err := h.ensureHome(ctx, "alice", testMeta); err != nil {
		f.Fatal(err)
	}
	token, _, err := db.CreateLink(ctx, testMeta, "/dav/home/alice/calendar/", false)
	if err != nil {
		f.Fatal(err)
	}
	w := &accessWorld{h: h, db: db}
	f.Fuzz(func(t *testing.T, name string) {
		if strings.ContainsAny(name, " ?#\r\n") || strings.Contains(name, token) {
			return
		}
		if _, err := url.ParseRequestURI("/pub/" + name); err != nil {
			return // not a request a client can send
		}
		rec := w.do("", http.MethodGet, "/pub/"+name, "")
		if rec.Code >= 500 || rec.Code == http.StatusOK {
			t.Fatalf("GET /pub/%s: %d %s", name, rec.Code, rec.Body)
		}
	})
}

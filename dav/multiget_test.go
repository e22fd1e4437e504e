package dav

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// FuzzPlainMember checks that the fast resolution of a multiget href
// gives what parsing the href gives, for a collection of the user and for
// one seen through a mount; and that it takes the hrefs clients send.
func FuzzPlainMember(f *testing.F) {
	for _, s := range []string{
		"/dav/home/alice/calendar/ev000001.ics",
		" /dav/home/alice/calendar/0c1d-ef@x.example.ics\n",
		"/dav/home/alice/bobs/b.ics",
		"/dav/home/alice/calendar/./a.ics",
		"/dav/home/alice/calendar//a.ics",
		"/dav/home/alice/calendar/..",
		"/dav/home/alice/calendar/a%20b.ics",
		"http://host/dav/home/alice/calendar/a.ics",
		"/dav/home/alice/calendar/a.ics?x",
		"/dav/home/alice/calendar/",
	} {
		f.Add(s)
	}
	own := &reportRequest{User: "alice", Coll: &engine.Collection{Path: "/dav/home/alice/calendar/"}, st: &reqState{user: "alice"}}
	mounted := &reportRequest{User: "alice", Coll: &engine.Collection{Path: "/dav/home/bob/cal/"},
		st: &reqState{user: "alice", mountFrom: "/dav/home/bob/cal/", mountTo: "/dav/home/alice/bobs/"}}
	for _, rq := range []*reportRequest{own, mounted} {
		var dir string
		if _, ok := plainMember(rq, rq.st.urlPath(rq.Coll.Path)+"ev000001.ics", &dir); !ok {
			f.Fatalf("plainMember refused the plain href of %s", rq.Coll.Path)
		}
	}
	f.Fuzz(func(t *testing.T, href string) {
		for _, rq := range []*reportRequest{own, mounted} {
			// The href alone, and after the plain href of the collection
			// (and of the other one) left its directory in plainDir.
			for _, before := range []string{"", rq.st.urlPath(rq.Coll.Path) + "a.ics", "/dav/home/alice/calendar/a.ics", "/dav/home/alice/bobs/a.ics"} {
				var dir string
				if before != "" {
					plainMember(rq, before, &dir)
				}
				name, ok := plainMember(rq, href, &dir)
				if !ok {
					continue
				}
				want, err := parsedMember(rq, href)
				if err != nil || name != want {
					t.Fatalf("%s in %s after %q: plainMember %q, parsing %q, %v", href, rq.Coll.Path, before, name, want, err)
				}
			}
		}
	})
}

// TestSyncReadsChangesInBulk: an incremental sync-collection that asks for
// more than the ETag reads the changed objects in one bulk read and
// answers each with its own properties and body, the deleted one with
// 404, in the order of the changes.
func TestSyncReadsChangesInBulk(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustObjects(t, h, db, 5)
	c, err := db.Collection("/dav/home/alice/calendar/")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, uid := range []string{"ev000003", "new", "ev000001"} {
		if _, err := db.PutObject(ctx, testMeta, c.Path, uid+".ics", testEvent(uid+"-changed"), engine.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteObject(ctx, testMeta, c.Path, "ev000002.ics", ""); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("REPORT", c.Path, strings.NewReader(`<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:sync-token>`+
		c.SyncToken+`</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/><D:getcontenttype/><C:calendar-data/></D:prop></D:sync-collection>`))
	r.SetBasicAuth("alice", "alice")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusMultiStatus {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	at := 0
	for _, uid := range []string{"ev000003", "new", "ev000001"} {
		o, err := db.Object(c.Path, uid+".ics", false)
		if err != nil {
			t.Fatal(err)
		}
		resp := "<D:href>/dav/home/alice/calendar/" + uid + ".ics</D:href><D:propstat><D:prop><D:getetag>" + strings.ReplaceAll(o.ETag, `"`, "&quot;") +
			"</D:getetag><D:getcontenttype>text/calendar; charset=utf-8</D:getcontenttype><C:calendar-data>BEGIN:VCALENDAR&#13;\n"
		i := strings.Index(body[at:], resp)
		if i < 0 {
			t.Fatalf("no response for %s after offset %d in\n%s", uid, at, body)
		}
		at += i + len(resp)
		if j := strings.Index(body[at:], "</C:calendar-data>"); j < 0 || !strings.Contains(body[at:at+j], "UID:"+uid+"-changed") {
			t.Errorf("%s: calendar-data is not its own", uid)
		}
	}
	if !strings.Contains(body, "<D:href>/dav/home/alice/calendar/ev000002.ics</D:href><D:status>HTTP/1.1 404 Not Found</D:status>") {
		t.Errorf("no 404 for the deleted member in\n%s", body)
	}
}

// TestMultigetContentLength: an uncompressed multistatus answer that fits
// in the writer's buffer (100 × 1 KB calendar-multiget) goes out with a
// Content-Length, not chunked; a longer one (1,000 × 1 KB) streams in
// chunks; both are whole and well formed.
func TestMultigetContentLength(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustObjects1KB(t, h, db, 1000)
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for _, n := range []int{100, 1000} {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		r, err := http.NewRequest("REPORT", srv.URL+"/dav/home/alice/calendar/", strings.NewReader(multigetBody(idx)))
		if err != nil {
			t.Fatal(err)
		}
		r.SetBasicAuth("alice", "alice")
		resp, err := c.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusMultiStatus {
			t.Fatalf("%d hrefs: %d, %v", n, resp.StatusCode, err)
		}
		if got := strings.Count(string(body), "END:VCALENDAR"); got != n || !strings.HasSuffix(string(body), "</D:multistatus>\n") {
			t.Fatalf("%d hrefs: %d bytes with %d events", n, len(body), got)
		}
		chunked := len(resp.TransferEncoding) > 0
		if n == 100 && (chunked || resp.ContentLength != int64(len(body))) {
			t.Errorf("%d hrefs, %d bytes: Content-Length %d, Transfer-Encoding %v; want the length, not chunked", n, len(body), resp.ContentLength, resp.TransferEncoding)
		}
		if n == 1000 && (!chunked || resp.ContentLength != -1) {
			t.Errorf("%d hrefs, %d bytes: Content-Length %d, Transfer-Encoding %v; want chunked", n, len(body), resp.ContentLength, resp.TransferEncoding)
		}
	}
}

package webhook

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
)

// readmeReceiver returns the Python receiver of README.md's Webhooks
// section, set up for key and to listen on a free loopback port, which it
// prints first.
func readmeReceiver(t *testing.T, secret string) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n```python\n(.*?BaseHTTPRequestHandler.*?)```\n").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no Python webhook receiver")
	}
	script := string(m[1])
	for _, r := range []struct{ old, new string }{
		{`"whsec_..."`, fmt.Sprintf("%q", secret)},
		{`HTTPServer(("", 8000), Hook).serve_forever()`,
			"srv = HTTPServer((\"127.0.0.1\", 0), Hook)\nprint(srv.server_address[1], flush=True)\nsrv.serve_forever()"},
		{"print(change[", "print(flush=True, *(change["},
		{`change.get("object"))`, `change.get("object")))`},
	} {
		if !strings.Contains(script, r.old) {
			t.Fatalf("the README's receiver no longer has %q", r.old)
		}
		script = strings.Replace(script, r.old, r.new, 1)
	}
	path := filepath.Join(t.TempDir(), "receiver.py")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestREADMEReceiver runs the README's Python receiver (Python's hmac,
// an implementation apart from ours) behind a pass-through proxy: it
// refuses a request whose body changed after signing, and prints every
// change the deliverer sends once, in order.
func TestREADMEReceiver(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (Debian's python3 is installed in CI)")
	}
	db := mustOpenDB(t, t.TempDir())
	var target atomic.Pointer[url.URL]
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target.Load()) }})
	t.Cleanup(proxy.Close)
	_, key, err := db.CreateWebhook(bg, engine.Meta{Actor: "test"}, engine.Webhook{URL: proxy.URL, Ops: []engine.Op{engine.OpObjectPut}})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, readmeReceiver(t, FormatSecret(key)))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("the receiver printed no port: %s", stderr.String())
	}
	u, _ := url.Parse("http://127.0.0.1:" + lines.Text() + "/")
	target.Store(u)

	body, now := []byte(`{"seq":"1","op":"OP_OBJECT_PUT"}`), time.Now().Unix()
	for _, c := range []struct {
		name string
		body []byte
		want int
	}{{"tampered", []byte(`{"seq":"2","op":"OP_OBJECT_PUT"}`), http.StatusUnauthorized}, {"OK", body, http.StatusNoContent}} {
		req, _ := http.NewRequest(http.MethodPost, proxy.URL, bytes.NewReader(c.body))
		req.Header.Set(HeaderID, "1")
		req.Header.Set(HeaderTimestamp, fmt.Sprint(now))
		req.Header.Set(HeaderSignature, Sign(key, "1", now, body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Fatalf("%s: %d, want %d; stderr %s", c.name, resp.StatusCode, c.want, stderr.String())
		}
	}
	if !lines.Scan() || lines.Text() != "1 OP_OBJECT_PUT None None" {
		t.Fatalf("the receiver printed %q for the hand-signed change", lines.Text())
	}
	var want []string
	for i := range 5 {
		seq := mustPut(t, db, "alice", fmt.Sprintf("e%d.ics", i))
		want = append(want, fmt.Sprintf("%d OP_OBJECT_PUT /dav/home/alice/calendar/ e%d.ics", seq, i))
	}
	start(t, Options{DB: db, AllowPrivate: true})
	for _, w := range want {
		if !lines.Scan() {
			t.Fatalf("the receiver stopped before %q: %s", w, stderr.String())
		}
		if lines.Text() != w {
			t.Fatalf("the receiver printed %q, want %q", lines.Text(), w)
		}
	}
}

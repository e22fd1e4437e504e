package web

import (
	"bytes"
	"encoding/base64"
	"html"
	"image/png"
	"net/url"
	"regexp"
	"strings"
	"testing"

	qr "github.com/piglig/go-qr"
)

var qrImgRE = regexp.MustCompile(`<img src="data:image/png;base64,([^"]+)"`)

// TestCalendarsQR: the calendars page carries QR codes, as inline PNGs,
// that decode to the exact DAVx5 setup link (the user's name escaped in
// it) and server URL shown beside them. The decoder is go-qr's own,
// written apart from its encoder (finder patterns, sampling, Reed-Solomon
// correction), reading the PNG the browser gets.
func TestCalendarsQR(t *testing.T) {
	a := mustApp(t, Options{})
	b := a.browser(t)
	b.signIn("alice")
	_, body := b.get("/calendars")
	host := strings.TrimPrefix(a.srv.URL, "http://")
	want := []string{"caldav://alice@" + host + "/", a.srv.URL + "/"}
	imgs := qrImgRE.FindAllStringSubmatch(body, -1)
	if len(imgs) != len(want) {
		t.Fatalf("%d QR codes on the page, want %d", len(imgs), len(want))
	}
	for i, m := range imgs {
		raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		got, err := qr.Decode(img)
		if err != nil || got != want[i] {
			t.Errorf("QR code %d decodes to %q, %v; want %q", i, got, err, want[i])
		}
		if !strings.Contains(body, "<code>"+want[i]) {
			t.Errorf("the text of QR code %d, %s, is not shown beside it", i, want[i])
		}
	}
}

// TestDAVx5URL: https gives davx5://, http caldav://; the user name is
// escaped as a URL's user.
func TestDAVx5URL(t *testing.T) {
	for _, c := range []struct{ base, user, want string }{
		{"https://dav.example.org", "alice", "davx5://alice@dav.example.org/"},
		{"http://127.0.0.1:5232", "alice", "caldav://alice@127.0.0.1:5232/"},
		{"https://dav.example.org:8443", "a b@c/d", "davx5://a%20b%40c%2Fd@dav.example.org:8443/"},
	} {
		u, _ := url.Parse(c.base)
		if got := davx5URL(u, c.user); got != c.want {
			t.Errorf("davx5URL(%s, %q) = %s, want %s", c.base, c.user, got, c.want)
		}
	}
	if _, err := qrCode(strings.Repeat("x", maxQRText+1)); err == nil {
		t.Error("a text over maxQRText made a QR code")
	}
}

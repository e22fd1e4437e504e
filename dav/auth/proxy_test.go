package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.1, ::1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		proxies TrustedProxies
		remote  string
		xff     []string
		want    string
	}{
		{"NoProxiesIgnoresXFF", TrustedProxies{}, "198.51.100.7:1234", []string{"203.0.113.1"}, "198.51.100.7"},
		{"UntrustedPeerIgnoresXFF", trusted, "198.51.100.7:1234", []string{"203.0.113.1"}, "198.51.100.7"},
		{"TrustedPeer", trusted, "10.1.2.3:1234", []string{"203.0.113.1"}, "203.0.113.1"},
		{"TrustedPeerNoXFF", trusted, "10.1.2.3:1234", nil, "10.1.2.3"},
		{"RightMostUntrusted", trusted, "10.1.2.3:1234", []string{"6.6.6.6, 203.0.113.1, 10.9.9.9"}, "203.0.113.1"},
		{"SpoofedLeftIgnored", trusted, "192.0.2.1:80", []string{"1.1.1.1", "203.0.113.1"}, "203.0.113.1"},
		{"AllTrustedLeftMost", trusted, "10.1.2.3:1234", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"GarbageStops", trusted, "10.1.2.3:1234", []string{"203.0.113.1, unknown, 10.0.0.2"}, "10.0.0.2"},
		{"WithPort", trusted, "10.1.2.3:1234", []string{"203.0.113.1:5555"}, "203.0.113.1"},
		{"IPv6Peer", trusted, "[::1]:1234", []string{"2001:db8::7"}, "2001:db8::7"},
		{"MappedV4", trusted, "[::ffff:10.1.2.3]:1234", []string{"::ffff:203.0.113.1"}, "203.0.113.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/dav/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tt.proxies.ClientAddr(r); got != tt.want {
				t.Errorf("ClientAddr = %q, want %q", got, tt.want)
			}
			var seen string
			tt.proxies.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = remoteHost(r.RemoteAddr)
			})).ServeHTTP(httptest.NewRecorder(), r)
			if seen != tt.want {
				t.Errorf("Handler set RemoteAddr to %q, want %q", seen, tt.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	p, err := ParseTrustedProxies(" 10.0.0.0/8,,192.0.2.1 ")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.String(), "10.0.0.0/8,192.0.2.1/32"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.org", "10.0.0"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) accepted", bad)
		}
	}
}

// FuzzClientAddr: any X-Forwarded-For yields an address, never a
// panic, and an untrusted peer's header is never believed.
func FuzzClientAddr(f *testing.F) {
	trusted, _ := ParseTrustedProxies("10.0.0.0/8")
	f.Add("203.0.113.1, 10.0.0.1")
	f.Add("[::1]:80,,unknown, ")
	f.Fuzz(func(t *testing.T, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Forwarded-For", xff)
		r.RemoteAddr = "10.1.1.1:1"
		if got := trusted.ClientAddr(r); got == "" {
			t.Fatalf("empty client for %q", xff)
		}
		r.RemoteAddr = "198.51.100.7:1"
		if got := trusted.ClientAddr(r); got != "198.51.100.7" {
			t.Fatalf("untrusted peer's header believed: %q", got)
		}
	})
}

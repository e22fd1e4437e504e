package dav

import "testing"

// TestNegotiateGzip covers RFC 9110 §12.5.3: q=0 refuses, "*" stands for
// the codings not listed, identity may be preferred or refused.
func TestNegotiateGzip(t *testing.T) {
	for _, tt := range []struct {
		header []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{"gzip, deflate, br"}, true},
		{[]string{"br", "gzip"}, true}, // two header lines
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip;q=0.0"}, false}, // the finding
		{[]string{"gzip;q=0.000"}, false},
		{[]string{"gzip; q=0"}, false},
		{[]string{"gzip;Q=0"}, false},
		{[]string{"gzip;q=0, *"}, false},
		{[]string{"*;q=1, gzip;q=0"}, false},
		{[]string{"gzip", "gzip;q=0"}, false}, // refusing wins
		{[]string{"gzip;q=0.001"}, true},
		{[]string{"gzip;q=1.0"}, true},
		{[]string{"gzip;q=0.5"}, true},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"deflate"}, false},
		{[]string{"identity"}, false},
		{[]string{"gzip;q=0.5, identity;q=1"}, false}, // identity preferred
		{[]string{"gzip;q=1, identity;q=0.5"}, true},
		{[]string{"gzip, identity;q=0"}, true},
		{[]string{"gzip;q=0, identity;q=0"}, false}, // nothing acceptable: sent uncoded
		{[]string{"gzip;q=0.5, *;q=0.8"}, false},    // * covers identity here
		{[]string{"gzip;q=1.5"}, false},             // malformed weight: entry ignored
		{[]string{"gzip;q=abc"}, false},
		{[]string{"gzip;q=-1"}, false},
		{[]string{"gzip;q=0.0001"}, false},
		{[]string{"gzip;q=1.001"}, false},
		{[]string{"gzip;q"}, false},
		{[]string{"gzip;q=abc, *"}, true},
		{[]string{" gzip ; q=0.8 "}, true},
	} {
		if got := negotiateGzip(tt.header); got != tt.want {
			t.Errorf("Accept-Encoding %q: gzip = %v, want %v", tt.header, got, tt.want)
		}
	}
}

// FuzzNegotiateGzip: any header never panics, and an added "gzip;q=0"
// always refuses gzip.
func FuzzNegotiateGzip(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0.0", "*;q=0.5, identity;q=0", "x-gzip;q=1.000", ";;,=,q=", "gzip;q=0;q=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		negotiateGzip([]string{h})
		if negotiateGzip([]string{h, "gzip;q=0"}) || negotiateGzip([]string{h + ",gzip;q=0"}) {
			t.Fatalf("%q plus gzip;q=0 still gzips", h)
		}
	})
}

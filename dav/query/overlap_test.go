package query

import (
	"testing"
	"time"
)

// TestFreeBusyOverlaps: busy periods of any type overlap when they share
// time; periods that only touch, or lie apart, do not.
func TestFreeBusyOverlaps(t *testing.T) {
	day := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return day.Add(time.Duration(h) * time.Hour) }
	type period struct {
		typ      string
		from, to int
	}
	mk := func(ps ...period) *FreeBusy {
		fb, err := NewFreeBusy(TimeRange{Start: day, End: day.Add(24 * time.Hour)}, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			fb.add(p.typ, at(p.from), at(p.to))
		}
		return fb
	}
	for _, c := range []struct {
		name string
		a, b []period
		want bool
	}{
		{"Same", []period{{"BUSY", 10, 11}}, []period{{"BUSY", 10, 11}}, true},
		{"Touching", []period{{"BUSY", 10, 11}}, []period{{"BUSY", 11, 12}}, false},
		{"Apart", []period{{"BUSY", 8, 9}, {"BUSY", 12, 13}}, []period{{"BUSY", 10, 11}}, false},
		{"Inside", []period{{"BUSY", 8, 18}}, []period{{"BUSY", 10, 11}}, true},
		{"Tentative", []period{{"BUSY", 8, 9}}, []period{{"BUSY-TENTATIVE", 8, 10}}, true},
		{"Unavailable", []period{{"BUSY-UNAVAILABLE", 0, 9}}, []period{{"BUSY", 8, 10}}, true},
		{"LaterOfMany", []period{{"BUSY", 1, 2}, {"BUSY", 3, 4}, {"BUSY", 20, 22}}, []period{{"BUSY", 5, 6}, {"BUSY", 21, 23}}, true},
		{"Empty", nil, []period{{"BUSY", 1, 2}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := mk(c.a...).Overlaps(mk(c.b...)); got != c.want {
				t.Errorf("a.Overlaps(b) = %v, want %v", got, c.want)
			}
			if got := mk(c.b...).Overlaps(mk(c.a...)); got != c.want {
				t.Errorf("b.Overlaps(a) = %v, want %v", got, c.want)
			}
		})
	}
}

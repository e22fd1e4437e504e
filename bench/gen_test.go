package bench

import (
	"bytes"
	"testing"
)

func TestEventSize(t *testing.T) {
	for _, i := range []int{0, 1, 2, 5, 10, 20} {
		body := Event(i, 0).Body
		if got := len(body); got < 900 || got > 2600 {
			t.Errorf("event %d is %d bytes, want about 1 KB", i, got)
		}
		for _, l := range bytes.Split(body, []byte("\r\n")) {
			if len(l) > 75 {
				t.Errorf("event %d has an unfolded line of %d octets", i, len(l))
			}
		}
	}
}

func TestExpectedQuery(t *testing.T) {
	e := ExpectedQuery(10000)
	if e.Objects < 300 || e.Instances <= e.Objects {
		t.Fatalf("ExpectedQuery(10000) = %+v: want hundreds of objects and more instances than objects", e)
	}
}

func TestInstancesIn(t *testing.T) {
	// Event 30 recurs weekly with COUNT and an override (see eventShape).
	s := eventShape(30)
	if s.rrule == "" || s.count == 0 {
		t.Fatalf("event 30: want a COUNT rule, got %+v", s)
	}
	all := s.instancesIn(s.start, s.start.AddDate(5, 0, 0))
	want := s.count - 1 // the EXDATE removes one
	if all != want {
		t.Errorf("event 30: %d instances over five years, want %d", all, want)
	}
}

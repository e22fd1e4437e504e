package bench

import (
	"fmt"
	"time"
)

// shape is what the generator decides about event i: when it starts, how it
// repeats, and what it carries. It is a pure function of i.
type shape struct {
	start     time.Time     // first occurrence, Europe/Berlin wall clock
	dur       time.Duration // 30 min to 3 h 30
	rrule     string        // empty for a single event
	count     int           // RRULE COUNT, 0 when not used
	until     time.Time     // RRULE UNTIL, zero when not used
	exdate    time.Time     // the excluded second occurrence
	override  bool          // the third occurrence is moved two hours later
	attendees bool          // ORGANIZER, three ATTENDEEs and a VALARM
}

func eventShape(i int) shape {
	r := splitmix(uint64(i))
	day := int(r % spreadDays)
	hour := 8 + int((r>>16)%11) // 08:00 .. 18:00
	minute := 15 * int((r>>24)%4)
	s := shape{
		start: time.Date(spreadStart.Year(), spreadStart.Month(), spreadStart.Day()+day, hour, minute, 0, 0, berlin),
		dur:   time.Duration(30*(1+int((r>>32)%4))) * time.Minute,
	}
	switch {
	case i%10 == 0:
		s.exdate = s.occurrence(1)
		s.override = (i/10)%2 == 1
		switch (i / 10) % 3 {
		case 0:
			s.count = 5 + int((r>>40)%50)
			s.rrule = fmt.Sprintf("FREQ=WEEKLY;COUNT=%d", s.count)
		case 1:
			u := s.start.AddDate(0, 0, 7*(3+int((r>>40)%60)))
			s.until = time.Date(u.Year(), u.Month(), u.Day(), 23, 59, 59, 0, time.UTC)
			s.rrule = "FREQ=WEEKLY;UNTIL=" + s.until.Format("20060102T150405Z")
		default:
			s.rrule = "FREQ=WEEKLY"
		}
	case i%10 <= 3:
		s.attendees = true
	}
	return s
}

// occurrence returns the k-th start of the weekly rule (k from 0), keeping
// the Berlin wall-clock time across DST changes as RFC 5545 §3.3.10 wants.
func (s shape) occurrence(k int) time.Time {
	return time.Date(s.start.Year(), s.start.Month(), s.start.Day()+7*k,
		s.start.Hour(), s.start.Minute(), 0, 0, berlin)
}

func (s shape) overrideTimes() (orig, moved time.Time) {
	orig = s.occurrence(2)
	return orig, orig.Add(2 * time.Hour)
}

// instancesIn counts the instances of the event that overlap [from, to).
func (s shape) instancesIn(from, to time.Time) int {
	overlaps := func(t time.Time) bool { return t.Before(to) && t.Add(s.dur).After(from) }
	if s.rrule == "" {
		if overlaps(s.start) {
			return 1
		}
		return 0
	}
	n := 0
	for k := 0; ; k++ {
		if s.count > 0 && k >= s.count {
			break
		}
		t := s.occurrence(k)
		if !s.until.IsZero() && t.After(s.until) {
			break
		}
		if !t.Before(to) {
			break
		}
		if k == 1 { // EXDATE
			continue
		}
		if k == 2 && s.override {
			_, t = s.overrideTimes()
		}
		if overlaps(t) {
			n++
		}
	}
	return n
}

// Expected is the right answer to the one-month query over events 0..n-1.
type Expected struct {
	Objects   int // resources with at least one instance in the window
	Instances int // VEVENT instances a calendar-query with expand returns
}

// ExpectedQuery computes the answer to the QueryWindow query over the first
// n generated events, recurrences, EXDATEs and overrides included.
func ExpectedQuery(n int) Expected {
	var e Expected
	for i := 0; i < n; i++ {
		if k := eventShape(i).instancesIn(QueryWindow.Start, QueryWindow.End); k > 0 {
			e.Objects++
			e.Instances += k
		}
	}
	return e
}

// splitmix is SplitMix64: a cheap, well-mixed hash of the event number.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

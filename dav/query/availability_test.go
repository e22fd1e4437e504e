package query

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
)

// vavail returns a VAVAILABILITY with properties props and AVAILABLE
// components avail (their properties beyond UID and DTSTAMP).
func vavail(uid, props string, avail ...string) string {
	s := "BEGIN:VAVAILABILITY\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\n" + props
	for i, a := range avail {
		s += "BEGIN:AVAILABLE\r\nUID:" + uid + string(rune('a'+i)) + "\r\nDTSTAMP:20260101T000000Z\r\n" + a + "END:AVAILABLE\r\n"
	}
	return s + "END:VAVAILABILITY\r\n"
}

// TestAvailabilityLayers: free-busy over Monday 5 to Saturday 10 January
// 2026 of stored VAVAILABILITY resources and an event (RFC 7953 §4): the
// time outside the AVAILABLE instances is its BUSYTYPE, a VAVAILABILITY
// of higher PRIORITY decides alone within its period, equal PRIORITYs
// combine their AVAILABLE time, and an event in an available slot is
// BUSY.
func TestAvailabilityLayers(t *testing.T) {
	week := "DTSTART:20260105T090000Z\r\nDTEND:20260105T170000Z\r\nRRULE:FREQ=DAILY;COUNT=5\r\n"
	low := vavail("low", "", week)                 // PRIORITY absent: lowest
	low0 := vavail("low0", "PRIORITY:0\r\n", week) // PRIORITY 0: the same
	wed := vavail("wed", "PRIORITY:1\r\nBUSYTYPE:BUSY\r\nDTSTART:20260107T000000Z\r\nDTEND:20260108T000000Z\r\n",
		"DTSTART:20260107T120000Z\r\nDTEND:20260107T140000Z\r\n")
	wed9 := strings.Replace(wed, "PRIORITY:1", "PRIORITY:9", 1) // below 1, above 0
	mornings := vavail("am", "", "DTSTART:20260105T060000Z\r\nDTEND:20260105T100000Z\r\nRRULE:FREQ=DAILY;COUNT=5\r\n")
	event := "BEGIN:VEVENT\r\nUID:e\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nEND:VEVENT\r\n"
	const unavail = "FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:"
	cases := []struct {
		name    string
		objects []string // each a resource's components
		want    []string
	}{
		{"Recurring", []string{low}, []string{unavail +
			"20260105T000000Z/20260105T090000Z,20260105T170000Z/20260106T090000Z,20260106T170000Z/20260107T090000Z," +
			"20260107T170000Z/20260108T090000Z,20260108T170000Z/20260109T090000Z,20260109T170000Z/20260110T000000Z"}},
		{"HigherPriorityDecidesAlone", []string{low0, wed}, []string{
			"FREEBUSY;FBTYPE=BUSY:20260107T000000Z/20260107T120000Z,20260107T140000Z/20260108T000000Z",
			unavail + "20260105T000000Z/20260105T090000Z,20260105T170000Z/20260106T090000Z,20260106T170000Z/20260107T000000Z," +
				"20260108T000000Z/20260108T090000Z,20260108T170000Z/20260109T090000Z,20260109T170000Z/20260110T000000Z"}},
		{"Priority9AboveNone", []string{wed9, low}, []string{
			"FREEBUSY;FBTYPE=BUSY:20260107T000000Z/20260107T120000Z,20260107T140000Z/20260108T000000Z",
			unavail + "20260105T000000Z/20260105T090000Z,20260105T170000Z/20260106T090000Z,20260106T170000Z/20260107T000000Z," +
				"20260108T000000Z/20260108T090000Z,20260108T170000Z/20260109T090000Z,20260109T170000Z/20260110T000000Z"}},
		{"EqualPriorityCombines", []string{low, mornings}, []string{unavail +
			"20260105T000000Z/20260105T060000Z,20260105T170000Z/20260106T060000Z,20260106T170000Z/20260107T060000Z," +
			"20260107T170000Z/20260108T060000Z,20260108T170000Z/20260109T060000Z,20260109T170000Z/20260110T000000Z"}},
		{"EventInAvailableSlot", []string{low, event}, []string{
			"FREEBUSY;FBTYPE=BUSY:20260105T100000Z/20260105T110000Z",
			unavail + "20260105T000000Z/20260105T090000Z,20260105T170000Z/20260106T090000Z,20260106T170000Z/20260107T090000Z," +
				"20260107T170000Z/20260108T090000Z,20260108T170000Z/20260109T090000Z,20260109T170000Z/20260110T000000Z"}},
	}
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	tr := TimeRange{Start: start, End: start.AddDate(0, 0, 5)}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fb, err := NewFreeBusy(tr, Limits{MaxInstances: 1000})
			if err != nil {
				t.Fatal(err)
			}
			var a Availability
			for _, comps := range tc.objects {
				obj, err := ParseCalendarObject([]byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n" + comps + "END:VCALENDAR\r\n"))
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(comps, "BEGIN:"+engine.CompAvailability) {
					if err := a.Add(obj, nil); err != nil {
						t.Fatal(err)
					}
				} else if err := fb.Add(context.Background(), obj, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := fb.AddAvailability(context.Background(), &a, nil); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range strings.Split(strings.ReplaceAll(string(fb.Render(start)), "\r\n ", ""), "\r\n") {
				if strings.HasPrefix(l, "FREEBUSY") {
					got = append(got, l)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

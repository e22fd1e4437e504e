package recur

import (
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

func TestWindowsZones(t *testing.T) {
	t.Parallel()
	for win, want := range map[string]string{
		"W. Europe Standard Time":   "Europe/Berlin",
		"Eastern Standard Time":     "America/New_York",
		"Pacific Standard Time":     "America/Los_Angeles",
		"GMT Standard Time":         "Europe/London",
		"Tokyo Standard Time":       "Asia/Tokyo",
		"AUS Eastern Standard Time": "Australia/Sydney",
		"India Standard Time":       "Asia/Calcutta",
		"Romance Standard Time":     "Europe/Paris",
		"UTC":                       "Etc/UTC",
		"New Zealand Standard Time": "Pacific/Auckland",
	} {
		if got := windowsZones[win]; got != want {
			t.Errorf("%s -> %q, want %q", win, got, want)
		}
	}
	for win, iana := range windowsZones {
		if LookupTZID(win) == nil {
			t.Errorf("%s -> %s does not load", win, iana)
		}
	}
}

// TestVTimezoneMatchesIANA compares the offsets of an interpreted Outlook
// VTIMEZONE with the IANA zone it describes, hour by hour over two years.
func TestVTimezoneMatchesIANA(t *testing.T) {
	t.Parallel()
	cal := mustReadCal(t, "testdata/corpus/outlook-custom-tz.ics")
	var vtz *ical.Component
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone {
			vtz = c
		}
	}
	got, err := LocationFromVTimezone(vtz)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := time.LoadLocation("Europe/Berlin")
	for at := utc("20240101T000000Z"); at.Before(utc("20260101T000000Z")); at = at.Add(time.Hour) {
		_, g := at.In(got).Zone()
		_, w := at.In(want).Zone()
		if g != w {
			t.Fatalf("at %v offset %d, want %d", at, g, w)
		}
	}
	// Local to UTC: the instant of a wall clock in summer.
	if got, want := time.Date(2024, 7, 1, 9, 0, 0, 0, got).UTC(), utc("20240701T070000Z"); !got.Equal(want) {
		t.Errorf("09:00 local on 2024-07-01 = %v, want %v", got, want)
	}
}

func TestZonesResolution(t *testing.T) {
	t.Parallel()
	z := NewZones(nil, time.UTC)
	if loc, ok := z.Location("/mozilla.org/20050126_1/Europe/Berlin"); !ok || loc.String() != "Europe/Berlin" {
		t.Errorf("vendor prefix: %v %v", loc, ok)
	}
	if _, ok := z.Location("Mars/Olympus_Mons"); ok {
		t.Error("unknown TZID resolved")
	}
	if _, ok := z.Location("Local"); ok {
		t.Error("Local resolved: it must not depend on the host")
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Duration{
		"P1D": {Days: 1}, "-PT15M": {Neg: true, Secs: 900}, "P2W": {Days: 14},
		"P1DT2H3M4S": {Days: 1, Secs: 7384}, "+PT0S": {},
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "P", "1D", "PT1D", "P1H", "PD", "P99999999999D"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}

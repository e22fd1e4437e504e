package engine

import (
	"errors"
	"github.com/almanac/almanac/engine/contentline"
	"testing"
)

// FuzzValidateCalendar: any input either validates or fails with an
// InvalidDataError; go-ical's panics never escape.
func FuzzValidateCalendar(f *testing.F) {
	f.Add(event("a"))
	f.Add(twoEvents("a", "a"))
	f.Add([]byte("BEGIN:VCALENDAR\r\nX-A;P=\"q\"z:v\r\nEND:VCALENDAR\r\n"))
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260101T000000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	// rrule-go panics expanding from year 0.
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:00000110\r\nRRULE:FREQ=WEEKLY;COUNT=1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	coll := &Collection{Kind: KindCalendar}
	f.Fuzz(func(t *testing.T, body []byte) {
		info, err := validateCalendar(body, coll, contentline.Defaults())
		var inv *InvalidDataError
		if err != nil && !errors.As(err, &inv) {
			t.Fatalf("error of type %T: %v", err, err)
		}
		if err == nil && (info.uid == "" || info.component == "" || info.envStart > info.envEnd) {
			t.Fatalf("accepted with info %+v", info)
		}
	})
}

// FuzzValidateVCard: any input either validates or fails with an
// InvalidDataError; go-vcard's panics never escape.
func FuzzValidateVCard(f *testing.F) {
	f.Add([]byte("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nUID:x\r\nEND:VCARD\r\n"))
	f.Add([]byte("BEGIN:VCARD\r\nVERSION:3.0\r\nADR:;;1 Main St\\;Apt 2;;;;\r\nEND:VCARD\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := validateVCard(body, contentline.Defaults())
		var inv *InvalidDataError
		if err != nil && !errors.As(err, &inv) {
			t.Fatalf("error of type %T: %v", err, err)
		}
	})
}

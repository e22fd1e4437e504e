package dav

import "testing"

// FuzzFreeBusyRequest: the parser of a free-busy POST never panics, and
// what it accepts has a range, an ORGANIZER and an ATTENDEE, with no line
// breaks in the values it copies into the answer.
func FuzzFreeBusyRequest(f *testing.F) {
	f.Add([]byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:x\r\nDTSTAMP:20260101T000000Z\r\n" +
		"DTSTART:20260105T000000Z\r\nDTEND:20260106T000000Z\r\nORGANIZER:mailto:a@x\r\nATTENDEE:mailto:b@x\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseFreeBusyRequest(body)
		if err != nil {
			return
		}
		if !req.tr.End.After(req.tr.Start) || req.organizer == "" || len(req.attendees) == 0 {
			t.Fatalf("accepted %+v", req)
		}
		for _, v := range append([]string{req.uid, req.organizer}, req.attendees...) {
			for _, c := range v {
				if c == '\r' || c == '\n' {
					t.Fatalf("value with a line break: %q", v)
				}
			}
		}
	})
}

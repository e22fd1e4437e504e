package engine

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine/contentline"
)

// calWith returns a VCALENDAR whose one VEVENT (UID u) holds lines.
func calWith(lines string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\n" +
		"DTSTART:20260105T100000Z\r\n" + lines + "END:VEVENT\r\nEND:VCALENDAR\r\n")
}

// cardWith returns a vCard 3.0 holding lines.
func cardWith(lines string) []byte {
	return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c\r\nFN:Jane Doe\r\n" + lines + "END:VCARD\r\n")
}

// overrides returns a master VEVENT and n overrides of it.
func overrides(n int) []byte {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n")
	b.WriteString("BEGIN:VEVENT\r\nUID:o\r\nDTSTART:20260105T100000Z\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n")
	for i := 0; i < n; i++ {
		b.WriteString("BEGIN:VEVENT\r\nUID:o\r\nRECURRENCE-ID:20260105T100000Z\r\nDTSTART:20260105T110000Z\r\nEND:VEVENT\r\n")
	}
	b.WriteString("END:VCALENDAR\r\n")
	return []byte(b.String())
}

// observances returns an event in a VTIMEZONE of n observances.
func observances(n int) []byte {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTIMEZONE\r\nTZID:X\r\n")
	for i := 0; i < n; i++ {
		b.WriteString("BEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n")
	}
	b.WriteString("END:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:t\r\nDTSTART;TZID=X:20260105T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	return []byte(b.String())
}

// TestPutRefusesBadContent: each fault found by issue 13 (NUL and other
// control characters, bad escapes, 100k+ lines, nesting split by folding,
// too many observances, overrides, properties or parameters) is refused
// with valid-calendar-data or valid-address-data, a message naming the
// line or the limit, and nothing stored.
func TestPutRefusesBadContent(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/book/", Kind: KindAddressBook, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	manyLines := calWith(strings.Repeat("BEGIN:VALARM\r\n"+strings.Repeat("X-A:1\r\n", contentline.DefaultMaxProperties-500)+"END:VALARM\r\n", 11))
	deep := []byte("BEGIN:VCALENDAR\r\n" + strings.Repeat("BEG\r\n IN:VEVENT\r\n", 20_000))
	for _, tc := range []struct {
		name, path string
		body       []byte
		cond       Condition
		msg        string
	}{
		{"NULInSummary", "/alice/cal/", calWith("SUMMARY:a\x00b\r\n"), CondValidCalendarData, "line 8: SUMMARY holds the control character U+0000"},
		{"ControlInDescription", "/alice/cal/", calWith("DESCRIPTION:bell\x07\r\n"), CondValidCalendarData, "U+0007"},
		{"BareCR", "/alice/cal/", calWith("SUMMARY:a\rb\r\n"), CondValidCalendarData, "U+000D"},
		{"DELInXProp", "/alice/cal/", calWith("X-FOO:a\x7f\r\n"), CondValidCalendarData, "U+007F"},
		{"ControlInParam", "/alice/cal/", calWith("ATTENDEE;CN=\"a\x01\":mailto:a@x\r\n"), CondValidCalendarData, "parameter CN of ATTENDEE"},
		{"BadEscape", "/alice/cal/", calWith("SUMMARY:a\\:b\r\n"), CondValidCalendarData, `SUMMARY has the bad escape \: (RFC 5545`},
		{"BadEscapeAtEnd", "/alice/cal/", calWith("LOCATION:room\\\r\n"), CondValidCalendarData, "LOCATION has the bad escape \\ ("},
		{"TooManyLines", "/alice/cal/", manyLines, CondValidCalendarData, "more than 100000 content lines"},
		{"DeepNestingByFolding", "/alice/cal/", deep, CondValidCalendarData, "nested deeper than 8"},
		{"TooManyObservances", "/alice/cal/", observances(contentline.DefaultMaxObservances + 1), CondValidCalendarData, "more than 200 STANDARD/DAYLIGHT"},
		{"TooManyOverrides", "/alice/cal/", overrides(contentline.DefaultMaxComponents), CondValidCalendarData, "more than 1000 components in one VCALENDAR"},
		{"TooManyProperties", "/alice/cal/", calWith(strings.Repeat("ATTENDEE:mailto:a@x\r\n", contentline.DefaultMaxProperties)), CondValidCalendarData, "more than 10000 properties"},
		{"TooManyParams", "/alice/cal/", calWith("X-P" + strings.Repeat(";A=1", 101) + ":v\r\n"), CondValidCalendarData, "more than 100 parameter values"},
		{"GoICalPanicParam", "/alice/cal/", calWith("X-A;P=\"q\"z:v\r\n"), CondValidCalendarData, "line 8: text after a quoted parameter value"},
		{"VCardNUL", "/alice/book/", cardWith("NOTE:a\x00\r\n"), CondValidAddressData, "line 5: NOTE holds the control character U+0000"},
		{"VCardTooManyProperties", "/alice/book/", cardWith(strings.Repeat("NOTE:x\r\n", contentline.DefaultMaxProperties)), CondValidAddressData, "more than 10000 properties in one VCARD"},
		{"VCardNested", "/alice/book/", cardWith("BEGIN:VCARD\r\nEND:VCARD\r\n"), CondValidAddressData, "a component inside a vCard"},
		{"VCardTwo", "/alice/book/", append(cardWith(""), cardWith("")...), CondValidAddressData, "more than one vCard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := db.Head()
			_, err := db.PutObject(ctx, alice, tc.path, "x", tc.body, PutOptions{})
			var inv *InvalidDataError
			if !errors.As(err, &inv) || inv.Cond != tc.cond {
				t.Fatalf("err = %v, want %s", err, tc.cond)
			}
			if !strings.Contains(inv.Msg, tc.msg) {
				t.Errorf("message %q does not say %q", inv.Msg, tc.msg)
			}
			if db.Head() != before {
				t.Errorf("a refused PUT wrote to the log")
			}
		})
	}
}

// TestPutAcceptsRealClientContent: what Thunderbird, Evolution, DAVx5 and
// iOS send keeps working at the edges of the limits: X- properties, long
// folded lines, quoted and RFC 6868 parameters, good escapes, TABs, a
// large base64 PHOTO, the largest counts allowed, and a byte-order mark,
// which is stripped from the stored body.
func TestPutAcceptsRealClientContent(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/book/", Kind: KindAddressBook, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	photo := strings.Repeat("/9j/4AAQSkZJRgABAQ", 1<<20/18)
	var folded strings.Builder
	for i := 0; i < len(photo); i += 74 {
		folded.WriteString(photo[i:min(i+74, len(photo))] + "\r\n ")
	}
	for _, tc := range []struct {
		name, path string
		body       []byte
	}{
		{"XPropsAndFolding", "/alice/cal/", calWith("X-MOZ-GENERATION:3\r\nX-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS=\"1 Main St\\nTown\";X-TITLE=Home:geo:1,2\r\n" +
			"DESCRIPTION:" + strings.Repeat("Lorem ipsum dolor sit amet\\, consectetur\\; adipiscing\\n\\N \\\\ elit\t\r\n ", 200) + "end\r\n" +
			"ATTENDEE;CN=\"Doe, Jane\";X-NOTE=^'hi^';PARTSTAT=NEEDS-ACTION:mailto:jane@example.org\r\nX-ALT-DESC;FMTTYPE=text/html:<p>C:\\dir</p>\r\n")},
		{"MaxOverrides", "/alice/cal/", overrides(contentline.DefaultMaxComponents - 1)},
		{"MaxObservances", "/alice/cal/", observances(contentline.DefaultMaxObservances)},
		{"BareLF", "/alice/cal/", bytes.ReplaceAll(event("lf"), []byte("\r\n"), []byte("\n"))},
		{"VCardPhoto1MB", "/alice/book/", cardWith("PHOTO;ENCODING=b;TYPE=JPEG:" + folded.String() + "\r\nitem1.URL:https\\://example.org\r\nitem1.X-ABLabel:_$!<HomePage>!$_\r\n")},
		{"VCardBOM", "/alice/book/", append([]byte("\uFEFF"), bytes.Replace(cardWith(""), []byte("UID:c"), []byte("UID:bom"), 1)...)},
		{"CalendarBOM", "/alice/cal/", append([]byte("\uFEFF"), event("bom")...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ToLower(tc.name)
			if _, err := db.PutObject(ctx, alice, tc.path, name, tc.body, PutOptions{}); err != nil {
				t.Fatal(err)
			}
			o, err := db.Object(tc.path, name, true)
			if err != nil {
				t.Fatal(err)
			}
			if want := bytes.TrimPrefix(tc.body, []byte("\uFEFF")); !bytes.Equal(o.Body, want) {
				t.Errorf("stored body differs from the one sent (BOM removed): %d bytes, want %d", len(o.Body), len(want))
			}
		})
	}
}

// TestParseCalendarModel: the go-ical model built from contentline has
// upper-case names, raw values and decoded parameters.
func TestParseCalendarModel(t *testing.T) {
	t.Parallel()
	cal, err := ParseCalendar([]byte("begin:vcalendar\r\nBEGIN:VEVENT\r\nuid:a\r\nsummary;language=en;x-q=^'x^':Hi\\, there\r\n\tfolks\r\nEND:VEVENT\r\nend:VCALENDAR\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	ev := cal.Children[0]
	p := ev.Props.Get("SUMMARY")
	if ev.Name != "VEVENT" || p == nil || p.Value != `Hi\, therefolks` || p.Params.Get("LANGUAGE") != "en" || p.Params.Get("X-Q") != `"x"` {
		t.Fatalf("parsed %+v", ev)
	}
}

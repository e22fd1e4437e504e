package contentline

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// line is what a test expects of one content line.
type line struct {
	Num    int
	Group  string
	Name   string
	Params string // "NAME=v1,v2;NAME=v"
	Value  string
	Source string
}

func scanAll(text string, lim Limits) ([]line, error) {
	var out []line
	s := NewScanner(text, lim)
	for s.Scan() {
		l := s.Line()
		var ps []string
		for _, p := range l.Params {
			ps = append(ps, p.Name+"="+strings.Join(p.Values, ","))
		}
		out = append(out, line{l.Num, l.Group, l.Name, strings.Join(ps, ";"), l.Value, l.Source})
	}
	return out, s.Err()
}

func TestScanner(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want []line
	}{
		{"CRLF", "BEGIN:VCALENDAR\r\nX:1\r\nEND:VCALENDAR\r\n", []line{
			{1, "", "BEGIN", "", "VCALENDAR", "BEGIN:VCALENDAR"},
			{2, "", "X", "", "1", "X:1"},
			{3, "", "END", "", "VCALENDAR", "END:VCALENDAR"}}},
		{"BareLFNoFinalEnd", "BEGIN:A\nX:1\nEND:A", []line{
			{1, "", "BEGIN", "", "A", "BEGIN:A"}, {2, "", "X", "", "1", "X:1"}, {3, "", "END", "", "A", "END:A"}}},
		{"EmptyLinesSkipped", "\r\nBEGIN:A\r\n\r\n\nX:1\r\nEND:A\r\n\r\n", []line{
			{2, "", "BEGIN", "", "A", "BEGIN:A"}, {5, "", "X", "", "1", "X:1"}, {6, "", "END", "", "A", "END:A"}}},
		{"FoldSpaceAndTab", "BEGIN:A\r\nDESCRIPTION:ab\r\n c\r\n\td\r\nEND:A\r\n", []line{
			{1, "", "BEGIN", "", "A", "BEGIN:A"},
			{2, "", "DESCRIPTION", "", "abcd", "DESCRIPTION:ab\r\n c\r\n\td"},
			{5, "", "END", "", "A", "END:A"}}},
		{"FoldInsideUTF8", "BEGIN:A\r\nSUMMARY:gr\xc3\r\n \xbc\xc3\x9f\xe2\x82\r\n \xac\r\nEND:A\r\n", []line{
			{1, "", "BEGIN", "", "A", "BEGIN:A"},
			{2, "", "SUMMARY", "", "grüß€", "SUMMARY:gr\xc3\r\n \xbc\xc3\x9f\xe2\x82\r\n \xac"},
			{5, "", "END", "", "A", "END:A"}}},
		{"FoldInName", "BEGIN:A\r\nSUM\r\n MARY;LANG\n UAGE=en:x\r\nEND:A\r\n", []line{
			{1, "", "BEGIN", "", "A", "BEGIN:A"},
			{2, "", "SUMMARY", "LANGUAGE=en", "x", "SUM\r\n MARY;LANG\n UAGE=en:x"},
			{5, "", "END", "", "A", "END:A"}}},
		{"QuotedParams", "BEGIN:A\r\nATTENDEE;CN=\"Doe, Jane; Dr.: MD\";ROLE=REQ-PARTICIPANT;MEMBER=\"mailto:a@x\",\"mailto:b@x\":mailto:j@x\r\nEND:A\r\n", []line{
			{1, "", "BEGIN", "", "A", "BEGIN:A"},
			{2, "", "ATTENDEE", "CN=Doe, Jane; Dr.: MD;ROLE=REQ-PARTICIPANT;MEMBER=mailto:a@x,mailto:b@x", "mailto:j@x",
				"ATTENDEE;CN=\"Doe, Jane; Dr.: MD\";ROLE=REQ-PARTICIPANT;MEMBER=\"mailto:a@x\",\"mailto:b@x\":mailto:j@x"},
			{3, "", "END", "", "A", "END:A"}}},
		{"RFC6868Raw", "BEGIN:A\r\nX;P=^'q^';Q=a^nb:v\r\nEND:A\r\n", []line{
			{1, "", "BEGIN", "", "A", "BEGIN:A"},
			{2, "", "X", "P=^'q^';Q=a^nb", "v", "X;P=^'q^';Q=a^nb:v"},
			{3, "", "END", "", "A", "END:A"}}},
		{"GroupAndBareParam", "BEGIN:VCARD\r\nitem1.TEL;CELL;type=pref:+1\r\nEND:VCARD\r\n", []line{
			{1, "", "BEGIN", "", "VCARD", "BEGIN:VCARD"},
			{2, "item1", "TEL", "TYPE=CELL;type=pref", "+1", "item1.TEL;CELL;type=pref:+1"},
			{3, "", "END", "", "VCARD", "END:VCARD"}}},
		{"ColonsInValueEmptyValue", "BEGIN:A\r\nURL:http://x/a:b\r\nX-E:\r\nX-P;P=:v\r\nEND:A\r\n", []line{
			{1, "", "BEGIN", "", "A", "BEGIN:A"},
			{2, "", "URL", "", "http://x/a:b", "URL:http://x/a:b"},
			{3, "", "X-E", "", "", "X-E:"},
			{4, "", "X-P", "P=", "v", "X-P;P=:v"},
			{5, "", "END", "", "A", "END:A"}}},
		{"BOM", "\uFEFFBEGIN:VCARD\r\nEND:VCARD\r\n", []line{
			{1, "", "BEGIN", "", "VCARD", "BEGIN:VCARD"}, {2, "", "END", "", "VCARD", "END:VCARD"}}},
		{"CaseInsensitiveEndAndStream", "begin:vcard\r\nEND:VCARD\r\nBEGIN:VCARD\r\nend:Vcard\r\n", []line{
			{1, "", "begin", "", "vcard", "begin:vcard"}, {2, "", "END", "", "VCARD", "END:VCARD"},
			{3, "", "BEGIN", "", "VCARD", "BEGIN:VCARD"}, {4, "", "end", "", "Vcard", "end:Vcard"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scanAll(tc.text, Defaults())
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("lines (-want +got):\n%s", d)
			}
		})
	}
}

// TestScannerFaults: each malformed text and each exceeded limit is an
// *Error naming the line and the limit.
func TestScannerFaults(t *testing.T) {
	small := Limits{MaxLineLength: 40, MaxLines: 6, MaxDepth: 3, MaxComponents: 2, MaxObservances: 2, MaxProperties: 3, MaxParams: 3}
	obs := func(n int) string {
		return "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\n" + strings.Repeat("BEGIN:STANDARD\r\nEND:STANDARD\r\n", n) + "END:VTIMEZONE\r\nEND:VCALENDAR\r\n"
	}
	for _, tc := range []struct {
		name  string
		text  string
		lim   Limits
		line  int
		limit string
	}{
		{"NoColon", "BEGIN:A\r\nX\r\nEND:A\r\n", Defaults(), 2, ""},
		{"BadName", "BEGIN:A\r\nX Y:1\r\nEND:A\r\n", Defaults(), 2, ""},
		{"NULInName", "BEGIN:A\r\nX\x00:1\r\nEND:A\r\n", Defaults(), 2, ""},
		{"BadGroup", "BEGIN:A\r\n.X:1\r\nEND:A\r\n", Defaults(), 2, ""},
		{"UnterminatedQuote", "BEGIN:A\r\nX;P=\"a:1\r\nEND:A\r\n", Defaults(), 2, ""},
		{"TextAfterQuote", "BEGIN:A\r\nX-A;P=\"q\"z:v\r\nEND:A\r\n", Defaults(), 2, ""},
		{"QuoteInUnquoted", "BEGIN:A\r\nX;P=a\"b:1\r\nEND:A\r\n", Defaults(), 2, ""},
		{"ParamWithoutColon", "BEGIN:A\r\nX;P=a\r\nEND:A\r\n", Defaults(), 2, ""},
		{"ContinuationFirst", " BEGIN:A\r\nEND:A\r\n", Defaults(), 1, ""},
		{"ContinuationAfterEmpty", "BEGIN:A\r\n\r\n X:1\r\nEND:A\r\n", Defaults(), 3, ""},
		{"PropertyOutside", "X:1\r\n", Defaults(), 1, ""},
		{"EndWithoutBegin", "END:A\r\n", Defaults(), 1, ""},
		{"EndMismatch", "BEGIN:A\r\nBEGIN:B\r\nEND:A\r\n", Defaults(), 3, ""},
		{"Unclosed", "BEGIN:A\r\nBEGIN:B\r\nEND:B\r\n", Defaults(), 0, ""},
		{"BeginWithoutName", "BEGIN:A\r\nBEGIN:\r\n", Defaults(), 2, ""},
		{"LongLine", "BEGIN:A\r\nX:" + strings.Repeat("a", 40) + "\r\nEND:A\r\n", small, 2, "MaxLineLength"},
		{"LongFoldedLine", "BEGIN:A\r\nX:" + strings.Repeat("a\r\n a", 20) + "\r\nEND:A\r\n", small, 2, "MaxLineLength"},
		{"Lines", "BEGIN:A\r\n" + strings.Repeat("X:1\r\nY:2\r\n", 3) + "END:A\r\n", Limits{MaxLines: 6}, 7, "MaxLines"},
		{"Depth", "BEGIN:A\r\nBEGIN:B\r\nBEGIN:C\r\nBEGIN:D\r\n", small, 4, "MaxDepth"},
		{"DepthByFolding", "BEGIN:A\r\n" + strings.Repeat("BEG\r\n IN:X\r\n", 3), small, 6, "MaxDepth"},
		{"Components", "BEGIN:A\r\nBEGIN:B\r\nEND:B\r\nBEGIN:B\r\nEND:B\r\nBEGIN:B\r\n", small, 6, "MaxComponents"},
		{"Observances", obs(3), Limits{MaxObservances: 2}, 7, "MaxObservances"},
		{"Properties", "BEGIN:A\r\nX:1\r\nX:2\r\nX:3\r\nX:4\r\n", small, 5, "MaxProperties"},
		{"Params", "BEGIN:A\r\nX;A=1;B=2,3;C=4:v\r\nEND:A\r\n", small, 2, "MaxParams"},
		{"BareParams", "BEGIN:A\r\nX;A;B;C;D:v\r\nEND:A\r\n", small, 2, "MaxParams"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scanAll(tc.text, tc.lim)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v, want an *Error", err)
			}
			if e.Line != tc.line || e.Limit != tc.limit {
				t.Errorf("error %v at line %d limit %q, want line %d limit %q", err, e.Line, e.Limit, tc.line, tc.limit)
			}
		})
	}
	// Within the limits, the same shapes pass.
	for _, text := range []string{obs(2), "BEGIN:A\r\nX;A=1;B=2,3:v\r\nEND:A\r\n", "BEGIN:A\r\nX:" + strings.Repeat("a", 38) + "\r\nEND:A\r\n"} {
		if _, err := scanAll(text, Limits{MaxLineLength: 40, MaxObservances: 2, MaxParams: 3}); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
}

// TestLinesCountPerObject: MaxLines counts each top-level component of a
// stream apart.
func TestLinesCountPerObject(t *testing.T) {
	card := "BEGIN:VCARD\r\nFN:a\r\nEND:VCARD\r\n"
	if _, err := scanAll(strings.Repeat(card, 10), Limits{MaxLines: 3}); err != nil {
		t.Fatal(err)
	}
}

func TestValueChecks(t *testing.T) {
	for _, tc := range []struct {
		in      string
		control int
		escape  int
	}{
		{"plain", -1, -1},
		{"tab\there", -1, -1},
		{"nul\x00", 3, -1},
		{"cr\rx", 2, -1},
		{"del\x7f", 3, -1},
		{"unicode ü €", -1, -1},
		{`ok \\ \; \, \n \N`, -1, -1},
		{`bad \:`, -1, 4},
		{`trailing \`, -1, 9},
		{`\\\x`, -1, 2},
	} {
		if got := ControlChar(tc.in); got != tc.control {
			t.Errorf("ControlChar(%q) = %d, want %d", tc.in, got, tc.control)
		}
		if got := BadEscape(tc.in); got != tc.escape {
			t.Errorf("BadEscape(%q) = %d, want %d", tc.in, got, tc.escape)
		}
	}
}

func TestWriteSource(t *testing.T) {
	s := NewScanner("BEGIN:A\nX:a\n b\r\n c\nEND:A", Defaults())
	var b strings.Builder
	for s.Scan() {
		s.Line().WriteSource(&b)
	}
	if got, want := b.String(), "BEGIN:A\r\nX:a\r\n b\r\n c\r\nEND:A\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestScanAllocs: a scan of unfolded lines allocates nothing per line.
func TestScanAllocs(t *testing.T) {
	text := "BEGIN:VCALENDAR\r\n" + strings.Repeat("BEGIN:VEVENT\r\nUID:x\r\nATTENDEE;CN=\"A, B\";PARTSTAT=ACCEPTED:mailto:a@x\r\nEND:VEVENT\r\n", 100) + "END:VCALENDAR\r\n"
	s := NewScanner(text, Defaults())
	allocs := testing.AllocsPerRun(10, func() {
		s.Reset(text, Defaults())
		for s.Scan() {
		}
		if s.Err() != nil {
			t.Fatal(s.Err())
		}
	})
	if allocs > 0 {
		t.Errorf("%v allocations per scan of 402 lines", allocs)
	}
}

func TestRFC6868(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"^'q^'", `"q"`},
		{"a^nb^Nc", "a\nb\nc"},
		{"^^", "^"},
		{"^^n", "^n"},
		{"^x^", "^x^"},
	} {
		if got := DecodeParam(tc.in); got != tc.want {
			t.Errorf("DecodeParam(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, v := range []string{"plain", `say "hi"`, "a\nb", "^n", "a,b", "x:y;z", "^'"} {
		enc := EncodeParam(v)
		text := "BEGIN:A\r\nX;P=" + enc + ":v\r\nEND:A\r\n"
		s := NewScanner(text, Defaults())
		s.Scan()
		if !s.Scan() {
			t.Fatalf("%q encoded as %q does not scan: %v", v, enc, s.Err())
		}
		if got := s.Line().Param("p"); got != v {
			t.Errorf("EncodeParam(%q) = %q reads back as %q", v, enc, got)
		}
	}
}

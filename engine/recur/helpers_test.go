package recur

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

// mustParse parses iCalendar text, accepting LF line ends.
func mustParse(tb testing.TB, text string) *ical.Calendar {
	tb.Helper()
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n")
	cal, err := ical.NewDecoder(strings.NewReader(text)).Decode()
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	return cal
}

func mustReadCal(tb testing.TB, path string) *ical.Calendar {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return mustParse(tb, string(b))
}

func utc(s string) time.Time {
	t, err := time.Parse("20060102T150405Z", s)
	if err != nil {
		panic(err)
	}
	return t
}

func fmtUTC(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("20060102T150405Z")
}

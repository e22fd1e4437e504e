package web

import (
	"fmt"
	"strings"
	"testing"
)

// TestImportBounds: a file over MaxImportItems events is refused whole
// with 413 naming the limit, and nothing is written.
func TestImportBounds(t *testing.T) {
	a := mustApp(t, Options{})
	b := a.browser(t)
	b.signIn("alice")
	file := func(n int) []byte {
		var s strings.Builder
		s.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n")
		for i := range n {
			fmt.Fprintf(&s, "BEGIN:VEVENT\r\nUID:u%d\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260303T100000Z\r\nEND:VEVENT\r\n", i)
		}
		return []byte(s.String() + "END:VCALENDAR\r\n")
	}
	code, body := upload(t, b, "calendar", file(MaxImportItems+1))
	if code != 413 || !strings.Contains(body, fmt.Sprint(MaxImportItems)) {
		t.Errorf("%d events: %d, want 413 naming %d", MaxImportItems+1, code, MaxImportItems)
	}
	v, _ := a.db.View()
	c, err := v.Collection("/dav/home/alice/calendar/")
	v.Close()
	if err != nil || c.Count != 0 {
		t.Fatalf("after the refused import: %v objects, %v", c.Count, err)
	}
}

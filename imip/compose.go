package imip

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/emersion/go-ical"
	"github.com/emersion/go-message/mail"
)

// Compose returns the email of the queued iMIP message msg (the event
// seq, queued at t): From and Reply-To are the originator (the organizer
// or the replying attendee), Sender is sender (the server's address,
// when it is another), To the recipient, and the body a
// multipart/alternative of a text/plain summary and the iTIP object as
// text/calendar with its method (RFC 6047 §2.4). The Message-ID depends
// on seq and the message only, so a message sent again has the same.
func Compose(msg *engine.IMIP, seq engine.Seq, t time.Time, sender string) ([]byte, error) {
	from := strings.TrimPrefix(msg.Originator, "mailto:")
	to := strings.TrimPrefix(msg.Recipient, "mailto:")
	cal, err := ical.NewDecoder(bytes.NewReader(msg.Calendar)).Decode()
	if err != nil {
		return nil, fmt.Errorf("imip: decode the iTIP object of event %d: %w", seq, err)
	}
	var h mail.Header
	h.SetDate(t)
	h.SetAddressList("From", []*mail.Address{{Address: from}})
	h.SetAddressList("Reply-To", []*mail.Address{{Address: from}})
	if sender != "" && !strings.EqualFold(sender, from) {
		h.SetAddressList("Sender", []*mail.Address{{Address: sender}})
	}
	h.SetAddressList("To", []*mail.Address{{Address: to}})
	h.SetSubject(subject(msg.Method, cal, from))
	h.SetMessageID(MessageID(msg, seq, sender))
	h.Set("MIME-Version", "1.0")
	var b bytes.Buffer
	w, err := mail.CreateInlineWriter(&b, h)
	if err != nil {
		return nil, fmt.Errorf("imip: compose: %w", err)
	}
	var text mail.InlineHeader
	text.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	if err := writePart(w, text, []byte(summary(msg.Method, cal, from))); err != nil {
		return nil, err
	}
	var ics mail.InlineHeader
	ics.SetContentType("text/calendar", map[string]string{"method": msg.Method, "charset": "utf-8"})
	if err := writePart(w, ics, msg.Calendar); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("imip: compose: %w", err)
	}
	return b.Bytes(), nil
}

func writePart(w *mail.InlineWriter, h mail.InlineHeader, body []byte) error {
	pw, err := w.CreatePart(h)
	if err != nil {
		return fmt.Errorf("imip: compose: %w", err)
	}
	if _, err := io.Copy(pw, bytes.NewReader(body)); err != nil {
		return fmt.Errorf("imip: compose: %w", err)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("imip: compose: %w", err)
	}
	return nil
}

// MessageID is the Message-ID of the queued message msg (event seq):
// the same whenever it is sent.
func MessageID(msg *engine.IMIP, seq engine.Seq, sender string) string {
	domain := "almanac.invalid"
	if _, d, ok := strings.Cut(sender, "@"); ok && d != "" {
		domain = d
	}
	h := sha256.Sum256([]byte(msg.Recipient + "\x00" + msg.UID + "\x00" + msg.Method))
	return fmt.Sprintf("imip.%d.%s@%s", seq, hex.EncodeToString(h[:6]), domain)
}

// first returns the first VEVENT or VTODO of cal (the master comes first
// in the objects we make), nil when there is none.
func first(cal *ical.Calendar) *ical.Component {
	for _, c := range cal.Children {
		if c.Name == ical.CompEvent || c.Name == ical.CompToDo {
			return c
		}
	}
	return nil
}

func propText(c *ical.Component, name string) string {
	if c == nil {
		return ""
	}
	if p := c.Props.Get(name); p != nil {
		return strings.ReplaceAll(p.Value, "\\,", ",")
	}
	return ""
}

// partstat is the PARTSTAT a REPLY's (one) ATTENDEE gives.
func partstat(c *ical.Component) string {
	if c == nil {
		return ""
	}
	if p := c.Props.Get(ical.PropAttendee); p != nil {
		return strings.ToLower(p.Params.Get(ical.ParamParticipationStatus))
	}
	return ""
}

func subject(method string, cal *ical.Calendar, from string) string {
	c := first(cal)
	title := cmp.Or(propText(c, ical.PropSummary), "(no title)")
	switch method {
	case "CANCEL":
		return "Cancelled: " + title
	case "REPLY":
		return fmt.Sprintf("%s: %s (%s)", from, title, cmp.Or(partstat(c), "replied"))
	case "ADD":
		return "More dates: " + title
	}
	return "Invitation: " + title
}

// summary is the text/plain part: what the message is, for a person whose
// mail program does not read the calendar part.
func summary(method string, cal *ical.Calendar, from string) string {
	c := first(cal)
	var b strings.Builder
	title := cmp.Or(propText(c, ical.PropSummary), "(no title)")
	switch method {
	case "CANCEL":
		fmt.Fprintf(&b, "%s cancelled: %s\n", from, title)
	case "REPLY":
		fmt.Fprintf(&b, "%s answered %s to: %s\n", from, cmp.Or(partstat(c), "(no answer)"), title)
	default:
		fmt.Fprintf(&b, "%s invites you to: %s\n", from, title)
	}
	if s := propText(c, ical.PropDateTimeStart); s != "" {
		fmt.Fprintf(&b, "When: %s", s)
		if p := c.Props.Get(ical.PropDateTimeStart); p != nil && p.Params.Get(ical.ParamTimezoneID) != "" {
			fmt.Fprintf(&b, " (%s)", p.Params.Get(ical.ParamTimezoneID))
		}
		b.WriteString("\n")
	}
	if s := propText(c, ical.PropLocation); s != "" {
		fmt.Fprintf(&b, "Where: %s\n", s)
	}
	b.WriteString("\nThe attached calendar part (text/calendar) lets your calendar program add it or answer.\n")
	return b.String()
}

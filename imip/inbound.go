package imip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
)

// Limits bound what ParseMessage and the LMTP listener take.
type Limits struct {
	// MaxSize bounds a message, headers included. Default 1 MiB.
	MaxSize int64
	// MaxParts bounds the MIME parts read (nested ones included).
	// Default 32.
	MaxParts int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = 1 << 20
	}
	if l.MaxParts <= 0 {
		l.MaxParts = 32
	}
	return l
}

// Message is what ParseMessage reads from an email.
type Message struct {
	// From is the address of the From header (without mailto:).
	From string
	// Method is the METHOD parameter of the calendar part (upper case).
	Method string
	// Calendar is the first text/calendar part, decoded.
	Calendar []byte
}

// ErrNoCalendar: an email without a text/calendar part.
var ErrNoCalendar = errors.New("imip: no text/calendar part")

// ErrTooLarge: an email over Limits.MaxSize or Limits.MaxParts.
var ErrTooLarge = errors.New("imip: message too large")

// ParseMessage reads an email (RFC 5322, MIME) within lim and returns its
// From address and its first text/calendar part (RFC 6047 §2.4: in any
// place of the MIME tree, inline or attached).
//
// Errors: ErrTooLarge, ErrNoCalendar, and a wrapped parse error for a
// malformed message or a From that is not one address.
func ParseMessage(r io.Reader, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	b, err := io.ReadAll(io.LimitReader(r, lim.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("imip: read message: %w", err)
	}
	if int64(len(b)) > lim.MaxSize {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, lim.MaxSize)
	}
	e, err := message.ReadWithOptions(bytes.NewReader(b), &message.ReadOptions{MaxHeaderBytes: 64 << 10})
	if err != nil && !message.IsUnknownCharset(err) {
		return nil, fmt.Errorf("imip: parse message: %w", err)
	}
	mr := mail.NewReader(e)
	from, err := mr.Header.AddressList("From")
	if err != nil || len(from) != 1 {
		return nil, fmt.Errorf("imip: parse message: the From header is not one address (%v)", err)
	}
	out := &Message{From: from[0].Address}
	for parts := 0; ; parts++ {
		if parts == lim.MaxParts {
			return nil, fmt.Errorf("%w: more than %d parts", ErrTooLarge, lim.MaxParts)
		}
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, ErrNoCalendar
		}
		if err != nil && !message.IsUnknownCharset(err) {
			return nil, fmt.Errorf("imip: parse message: %w", err)
		}
		ct := p.Header.Get("Content-Type")
		t, params, err := mime.ParseMediaType(ct)
		if err != nil || t != "text/calendar" {
			continue
		}
		cal, err := io.ReadAll(p.Body)
		if err != nil {
			return nil, fmt.Errorf("imip: read the calendar part: %w", err)
		}
		out.Method, out.Calendar = strings.ToUpper(params["method"]), cal
		return out, nil
	}
}

// Receiver applies an iTIP message received by email: a REPLY from an
// attendee for an organizer here, or a REQUEST, ADD or CANCEL from an
// organizer elsewhere for an attendee here. method is the text/calendar
// part's method parameter (upper case, "" when it has none). Receive
// returns an error wrapping ErrRefused when the message is refused for
// good (the LMTP answer is then 550), any other error for a failure that
// may pass (451).
type Receiver interface {
	Receive(ctx context.Context, recipient, sender, method string, calendar []byte) error
}

// ErrRefused marks a Receiver's refusal for good: not from an invited
// attendee or the meeting's organizer, no such user, not an iTIP message
// this server takes.
var ErrRefused = errors.New("imip: refused")

// Methods are the iTIP methods taken by email; others are refused
// before they reach the Receiver (COUNTER, REFRESH and DECLINECOUNTER
// are not supported).
var Methods = []string{"REPLY", "REQUEST", "ADD", "CANCEL"}

// LMTP receives scheduling messages: a go-smtp backend for an LMTP (or
// SMTP) server an MTA delivers the users' mail to.
type LMTP struct {
	// Receiver applies each message. Required.
	Receiver Receiver
	// Limits bound each message.
	Limits Limits
	// Timeout bounds the work of one message. Default 30s.
	Timeout time.Duration
	// Logger receives a line per message. Default: discard.
	Logger *slog.Logger
}

// MaxRecipients bounds the recipients of one message the server takes.
const MaxRecipients = 16

// Server returns an LMTP server of l (SMTP when lmtp is false) with its
// bounds: message size, recipients, read and write timeouts.
func (l *LMTP) Server(lmtp bool) *smtp.Server {
	s := smtp.NewServer(l)
	s.LMTP, s.Domain = lmtp, "almanac"
	s.MaxMessageBytes = l.Limits.withDefaults().MaxSize
	s.MaxRecipients = MaxRecipients
	s.ReadTimeout, s.WriteTimeout = time.Minute, time.Minute
	s.ErrorLog = slogLogger{l.logger()}
	return s
}

func (l *LMTP) logger() *slog.Logger {
	if l.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Logger
}

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) {
	s.l.Warn("imip: lmtp: " + fmt.Sprintf(format, v...))
}
func (s slogLogger) Println(v ...any) { s.l.Warn("imip: lmtp: " + fmt.Sprint(v...)) }

// NewSession implements smtp.Backend.
func (l *LMTP) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{l: l, remote: remoteOf(c)}, nil
}

func remoteOf(c *smtp.Conn) string {
	if a := c.Conn().RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

type session struct {
	l        *LMTP
	remote   string
	envelope string
	rcpts    []string
}

func (s *session) Reset()        { s.envelope, s.rcpts = "", nil }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.envelope = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

// Data answers for every recipient at once (SMTP).
func (s *session) Data(r io.Reader) error {
	var first error
	s.deliver(r, func(_ string, err error) {
		if first == nil {
			first = err
		}
	})
	return first
}

// LMTPData answers per recipient (RFC 2033).
func (s *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	s.deliver(r, status.SetStatus)
	return nil
}

// deliver parses the message and hands it to the Receiver once per
// recipient, reporting each one's answer to set.
func (s *session) deliver(r io.Reader, set func(rcpt string, err error)) {
	log := s.l.logger().With("remote", s.remote, "envelope_from", s.envelope)
	m, err := ParseMessage(r, s.l.Limits)
	if err != nil {
		log.Warn("imip: message refused", "err", err)
		answer := permanent(5, 6, 0, err)
		if errors.Is(err, ErrTooLarge) {
			answer = permanent(5, 3, 4, err)
		}
		for _, rc := range s.rcpts {
			set(rc, answer)
		}
		return
	}
	timeout := s.l.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, rc := range s.rcpts {
		err := s.receive(ctx, rc, m)
		switch {
		case err == nil:
			log.Info("imip: message applied", "method", m.Method, "from", m.From, "to", rc)
			set(rc, nil)
		case errors.Is(err, ErrRefused):
			log.Warn("imip: message refused", "method", m.Method, "from", m.From, "to", rc, "err", err)
			set(rc, permanent(5, 7, 1, err))
		default:
			log.Error("imip: message failed", "method", m.Method, "from", m.From, "to", rc, "err", err)
			set(rc, &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "temporary failure, try again later"})
		}
	}
}

func (s *session) receive(ctx context.Context, rcpt string, m *Message) error {
	if m.Method != "" && !slices.Contains(Methods, m.Method) {
		return fmt.Errorf("%w: method %s: only %s are taken by email", ErrRefused, m.Method, strings.Join(Methods, ", "))
	}
	return s.l.Receiver.Receive(ctx, rcpt, m.From, m.Method, m.Calendar)
}

// permanent is an SMTP 5xx answer naming err (one line, bounded).
func permanent(class, subject, detail int, err error) *smtp.SMTPError {
	msg := strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return ' '
		}
		return r
	}, err.Error())
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{class, subject, detail}, Message: msg}
}

// Listen listens on addr: a path (or "unix:path") is a unix socket, made
// readable and writable by its group (give the MTA's user the group),
// anything else a TCP address.
func Listen(addr string) (net.Listener, error) {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok || strings.HasPrefix(addr, "/") {
		if !ok {
			p = addr
		}
		return listenUnix(p)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("imip: listen on %s: %w", addr, err)
	}
	return l, nil
}

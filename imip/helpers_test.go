package imip

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
)

// received is one email the sink accepted.
type received struct {
	from, to string
	data     []byte
}

// sink is an in-process SMTP server that keeps what it accepts; refuse,
// when set, may answer the DATA of a message with an error instead.
type sink struct {
	mu     sync.Mutex
	got    []received
	refuse func(to string, n int) error // n: offers of a message to to so far
	offers map[string]int
	addr   string
}

func newSink(tb testing.TB) *sink {
	tb.Helper()
	s := &sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	srv.Domain, srv.AllowInsecureAuth, srv.ErrorLog = "sink.test", true, discardLog{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.addr = l.Addr().String()
	go srv.Serve(l)
	tb.Cleanup(func() { srv.Close() })
	return s
}

type discardLog struct{}

func (discardLog) Printf(string, ...any) {}
func (discardLog) Println(...any)        {}

// smtp returns the insecure (loopback) SMTP of the sink.
func (s *sink) smtp(tb testing.TB) *SMTP {
	tb.Helper()
	m, err := ParseSMTP("smtp://"+s.addr, "", "calendar@example.org", true)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func (s *sink) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// offered returns how often a message to to was offered.
func (s *sink) offered(to string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offers[to]
}

type sinkSession struct {
	s        *sink
	from, to string
}

func (x *sinkSession) Reset()        {}
func (x *sinkSession) Logout() error { return nil }
func (x *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}
func (x *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = to
	return nil
}
func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.offers == nil {
		x.s.offers = map[string]int{}
	}
	x.s.offers[x.to]++
	if x.s.refuse != nil {
		if err := x.s.refuse(x.to, x.s.offers[x.to]); err != nil {
			return err
		}
	}
	x.s.got = append(x.s.got, received{from: x.from, to: x.to, data: b})
	return nil
}

func mustOpen(tb testing.TB) *engine.DB {
	tb.Helper()
	db, err := engine.Open("db", &engine.Options{FS: vfs.NewMem()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// parsed is an email read back with go-message.
type parsed struct {
	header                     mail.Header
	contentType, text          string
	calType                    string
	calParams                  map[string]string
	calendar                   []byte
	messageID, subject, sender string
}

func mustParse(tb testing.TB, data []byte) parsed {
	tb.Helper()
	r, err := mail.CreateReader(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	var p parsed
	p.header = r.Header
	p.contentType, _, _ = r.Header.ContentType()
	p.messageID, _ = r.Header.MessageID()
	p.subject, _ = r.Header.Subject()
	p.sender = r.Header.Get("Sender")
	for {
		part, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		h, ok := part.Header.(*mail.InlineHeader)
		if !ok {
			tb.Fatalf("a part that is no inline part: %v", part.Header)
		}
		t, params, _ := h.ContentType()
		b, err := io.ReadAll(part.Body)
		if err != nil {
			tb.Fatal(err)
		}
		switch t {
		case "text/plain":
			p.text = string(b)
		case "text/calendar":
			p.calType, p.calParams, p.calendar = t, params, b
		default:
			tb.Fatalf("unexpected part %s", t)
		}
	}
	return p
}

// waitFor polls cond until it holds; the bound is only a stop for a
// broken test, no assertion on time.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting for %s", what)
		}
	}
}

// runSender runs s until the test ends or it returns (its error on done).
func runSender(tb testing.TB, s *Sender) <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	done, stopped := make(chan error, 1), make(chan struct{})
	go func() { done <- s.Run(ctx); close(stopped) }()
	tb.Cleanup(func() { cancel(); <-stopped })
	return done
}

// caughtUp reports whether the sender's cursor reached the log's head.
func caughtUp(db *engine.DB) bool {
	c, err := db.Cursor(engine.IMIPCursor)
	return err == nil && c >= db.Head()
}

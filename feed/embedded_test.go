package feed

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"
)

// TestEmbeddedAuthorization is the authorization test of the NATS port:
// an anonymous client and a wrong password are refused; a reader reads
// the stream and runs a consumer, but its publishes to the stream's
// subjects, message deletions, purges and stream changes are refused and
// leave the stream as it was; the publisher publishes.
func TestEmbeddedAuthorization(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("reader-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	readers, err := ReadReaders(strings.NewReader("# consumers\nreader:" + string(hash) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	db := MustOpenDB(t)
	ns, err := StartEmbedded(EmbeddedOptions{StoreDir: filepath.Join(t.TempDir(), "nats"), Listen: "127.0.0.1:0", Readers: readers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	pub := MustConnect(t, ns)
	p, _ := runPublisher(t, PublisherOptions{DB: db, Conn: pub, IncludeBody: true})
	for i := range 5 {
		MustPut(t, db, "alice", fmt.Sprintf("a%d.ics", i))
	}
	waitFor(t, 30*time.Second, "the publisher to publish everything", func() bool { return p.Cursor() == db.Head() })
	stored := len(streamMsgs(t, pub, "ALMANAC"))

	t.Run("ErrAnonymous", func(t *testing.T) {
		nc, err := nats.Connect(ns.ClientURL(), nats.NoReconnect())
		if err == nil {
			nc.Close()
			t.Fatal("an anonymous client connected")
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("err = %v, want an authorization violation", err)
		}
	})
	t.Run("ErrWrongPassword", func(t *testing.T) {
		for _, user := range []string{"reader", PublisherUser} {
			nc, err := nats.Connect(ns.ClientURL(), nats.UserInfo(user, "guess"), nats.NoReconnect())
			if err == nil {
				nc.Close()
				t.Fatalf("%s connected with a wrong password", user)
			}
		}
	})

	violations := make(chan error, 16)
	rc, err := nats.Connect(ns.ClientURL(), nats.UserInfo("reader", "reader-pw"), nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case violations <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatalf("reader: %v", err)
	}
	t.Cleanup(rc.Close)
	js, err := jetstream.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := deadline(t, 30*time.Second)
	s, err := js.Stream(ctx, "ALMANAC")
	if err != nil {
		t.Fatalf("reader: stream info: %v", err)
	}

	t.Run("ReaderReads", func(t *testing.T) {
		m, err := s.GetMsg(ctx, 1)
		if err != nil {
			t.Fatalf("get message 1: %v", err)
		}
		if decodeMsg(t, m, decodeProto).Seq == 0 {
			t.Error("message 1 has no change")
		}
		cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatalf("consumer: %v", err)
		}
		batch, err := cons.Fetch(stored, jetstream.FetchMaxWait(20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range batch.Messages() {
			n++
		}
		if n != stored {
			t.Errorf("consumer got %d messages, want %d (err %v)", n, stored, batch.Error())
		}
	})

	// expectViolation waits for the server's permissions violation for subj.
	expectViolation := func(t *testing.T, subj string) {
		t.Helper()
		for {
			select {
			case err := <-violations:
				if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), subj) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no permissions violation for %s", subj)
			}
		}
	}
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		t.Cleanup(cancel)
		return c
	}
	t.Run("ErrReaderPublishes", func(t *testing.T) {
		subj := "almanac.alice.calendar.calendar.put"
		if err := rc.Publish(subj, []byte("forged")); err != nil {
			t.Fatal(err)
		}
		expectViolation(t, subj)
		if _, err := js.Publish(short(), "almanac.x", []byte("forged"), jetstream.WithMsgID("999999")); err == nil {
			t.Error("a reader's JetStream publish was acknowledged")
		}
		expectViolation(t, "almanac.x")
	})
	t.Run("ErrReaderDeletes", func(t *testing.T) {
		if err := s.DeleteMsg(short(), 1); err == nil {
			t.Error("a reader deleted message 1")
		}
		expectViolation(t, "$JS.API.STREAM.MSG.DELETE.ALMANAC")
		if err := s.Purge(short()); err == nil {
			t.Error("a reader purged the stream")
		}
		expectViolation(t, "$JS.API.STREAM.PURGE.ALMANAC")
		if _, err := js.UpdateStream(short(), jetstream.StreamConfig{Name: "ALMANAC", Subjects: []string{"other.>"}}); err == nil {
			t.Error("a reader changed the stream")
		}
		expectViolation(t, "$JS.API.STREAM.UPDATE.ALMANAC")
		if err := js.DeleteStream(short(), "ALMANAC"); err == nil {
			t.Error("a reader deleted the stream")
		}
		expectViolation(t, "$JS.API.STREAM.DELETE.ALMANAC")
	})

	// The stream is as the publisher left it, and it still publishes.
	got := streamMsgs(t, pub, "ALMANAC")
	if len(got) != stored || got[0].Sequence != 1 {
		t.Fatalf("stream has %d messages from %d, want the %d the publisher stored", len(got), got[0].Sequence, stored)
	}
	MustPut(t, db, "alice", "after.ics")
	waitFor(t, 30*time.Second, "the publisher to publish the next change", func() bool { return p.Cursor() == db.Head() })
	if n := len(streamMsgs(t, pub, "ALMANAC")); n != stored+1 {
		t.Errorf("stream has %d messages, want %d", n, stored+1)
	}
}

func TestReadReaders(t *testing.T) {
	hash := "$2y$05$" + strings.Repeat("a", 53)
	t.Run("OK", func(t *testing.T) {
		got, err := ReadReaders(strings.NewReader("\n# c\nr1:" + hash + "\n  r2:" + hash + "  \n"))
		if err != nil || len(got) != 2 || got[0].Name != "r1" || got[1].PasswordHash != hash {
			t.Errorf("got %+v, %v", got, err)
		}
	})
	for name, in := range map[string]string{
		"ErrPlain":     "r1:secret",
		"ErrNoColon":   "r1",
		"ErrNoName":    ":" + hash,
		"ErrTwice":     "r1:" + hash + "\nr1:" + hash,
		"ErrPublisher": PublisherUser + ":" + hash,
		"ErrSpace":     "r 1:" + hash,
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := ReadReaders(strings.NewReader(in)); err == nil {
				t.Errorf("ReadReaders(%q) = %+v, want an error", in, got)
			}
		})
	}
}

func FuzzReadReaders(f *testing.F) {
	f.Add("r1:$2y$05$" + strings.Repeat("a", 53) + "\n# x\n")
	f.Add("a:b:c\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		rs, err := ReadReaders(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range rs {
			if r.Name == "" || strings.ContainsAny(r.Name, " \t\n") || !bcryptHash.MatchString(r.PasswordHash) {
				t.Errorf("accepted %+v", r)
			}
		}
	})
}

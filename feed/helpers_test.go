package feed

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/almanac/almanac/change"
	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

var bg = context.Background()

// MustOpenDB opens an engine on an in-memory filesystem with users alice,
// bob (role user) and admin (role admin), each with a home, a calendar and
// an address book.
func MustOpenDB(tb testing.TB) *engine.DB {
	tb.Helper()
	return mustOpenDBAt(tb, "db", &engine.Options{FS: vfs.NewMem()})
}

// mustOpenDiskDB is MustOpenDB on the real disk, with every write synced
// as a server's are.
func mustOpenDiskDB(tb testing.TB) *engine.DB {
	tb.Helper()
	return mustOpenDBAt(tb, tb.TempDir(), nil)
}

func mustOpenDBAt(tb testing.TB, dir string, opts *engine.Options) *engine.DB {
	tb.Helper()
	db, err := engine.Open(dir, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	for _, u := range []string{"alice", "bob", "admin"} {
		role := engine.RoleUser
		if u == "admin" {
			role = engine.RoleAdmin
		}
		m := engine.Meta{Actor: u, UserAgent: "feed-test", RequestID: "setup"}
		if err := db.PutUser(bg, m, engine.User{Name: u, PasswordHash: "x", Role: role}); err != nil {
			tb.Fatal(err)
		}
		for _, c := range []engine.CollectionSpec{
			{Path: home(u), Kind: engine.KindHome, Owner: u},
			{Path: home(u) + "calendar/", Kind: engine.KindCalendar, Owner: u},
			{Path: home(u) + "contacts/", Kind: engine.KindAddressBook, Owner: u},
		} {
			if _, err := db.CreateCollection(bg, m, c); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return db
}

func home(u string) string { return "/dav/home/" + u + "/" }

// ical returns a small VEVENT; pad adds a description of that many bytes.
func ical(uid string, pad int) []byte {
	desc := make([]byte, pad)
	for i := range desc {
		desc[i] = 'x'
	}
	return fmt.Appendf(nil, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:%s\r\nDESCRIPTION:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", uid, uid, desc)
}

func vcardBody(uid string) []byte {
	return fmt.Appendf(nil, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:%s\r\nN:%s;;;;\r\nEND:VCARD\r\n", uid, uid, uid)
}

// MustPut writes one calendar object as user u.
func MustPut(tb testing.TB, db *engine.DB, u, name string) *engine.PutResult {
	tb.Helper()
	r, err := db.PutObject(bg, engine.Meta{Actor: u, UserAgent: "feed-test", RequestID: name}, home(u)+"calendar/", name, ical(name, 0), engine.PutOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// fakePasswords accepts "secret" for every user the engine knows; the
// password "busy" finds every hashing slot busy (dav/auth's *BusyError).
type fakePasswords struct{ db *engine.DB }

var errBad = errors.New("fake: bad credentials")

type busyErr struct{}

func (busyErr) Error() string { return "auth: too many logins at once" }
func (busyErr) Limit() string {
	return "too many logins at once: all 2 password-hashing slots stayed busy for 5s"
}
func (busyErr) ServiceUnavailable() int { return 5 }

func (f fakePasswords) Authenticate(_ context.Context, user, password, _ string) (*engine.User, error) {
	if password == "busy" {
		return nil, fmt.Errorf("auth: %w", busyErr{})
	}
	u, err := f.db.User(user)
	if err != nil || password != "secret" {
		return nil, errBad
	}
	return u, nil
}

// testServer is a feed Server behind a bufconn listener.
type testServer struct {
	srv  *Server
	lis  *bufconn.Listener
	stop func() // stops the gRPC server and waits for Serve to return
}

// MustServe starts a feed gRPC server over bufconn.
func MustServe(tb testing.TB, db *engine.DB, opts Options) *testServer {
	tb.Helper()
	opts.DB = db
	opts.Passwords = fakePasswords{db}
	srv, err := NewServer(opts)
	if err != nil {
		tb.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	g := srv.NewGRPCServer()
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Serve(lis) }()
	stop := func() { g.Stop(); <-done }
	tb.Cleanup(stop)
	return &testServer{srv: srv, lis: lis, stop: stop}
}

// basicCreds sends Basic credentials with every call.
type basicCreds struct{ header string }

func (c basicCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": c.header}, nil
}
func (basicCreds) RequireTransportSecurity() bool { return false }

func basic(user, pass string) basicCreds {
	return basicCreds{"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
}

// client dials the server with the given authorization; extra options
// come last.
func (ts *testServer) client(tb testing.TB, creds basicCreds, extra ...grpc.DialOption) feedv1.ChangeFeedServiceClient {
	tb.Helper()
	opts := append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ts.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20)),
	}, extra...)
	cc, err := grpc.NewClient("passthrough:///bufnet", opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cc.Close() })
	return feedv1.NewChangeFeedServiceClient(cc)
}

// expected returns the seqs of the log's feed events (everything but
// account events) that pass keep, computed from the log independently of
// the feed's conversion: the owner is read from the /dav/home/<u>/ path.
func expected(tb testing.TB, db *engine.DB, keep func(ev *engine.Event, owner string) bool) []uint64 {
	tb.Helper()
	v, err := db.View()
	if err != nil {
		tb.Fatal(err)
	}
	defer v.Close()
	var out []uint64
	for ev, err := range v.Log(1) {
		if err != nil {
			tb.Fatal(err)
		}
		if ev.Op == engine.OpUserSet || ev.Op == engine.OpUserDeleted {
			continue
		}
		if keep(ev, change.OwnerFromPath(ev.CollectionPath)) {
			out = append(out, uint64(ev.Seq))
		}
	}
	return out
}

// collect receives from a stream until it has a change with seq >= until
// or the deadline passes.
func collect(tb testing.TB, stream grpc.ServerStreamingClient[feedv1.SubscribeResponse], until uint64) []*feedv1.Change {
	tb.Helper()
	var got []*feedv1.Change
	for len(got) == 0 || got[len(got)-1].Seq < until {
		resp, err := stream.Recv()
		if err != nil {
			tb.Fatalf("recv after %d changes: %v", len(got), err)
		}
		got = append(got, resp.Changes...)
	}
	return got
}

func seqs(chs []*feedv1.Change) []uint64 {
	out := make([]uint64, len(chs))
	for i, c := range chs {
		out[i] = c.Seq
	}
	return out
}

// deadline returns a context that ends the test's wait after d.
func deadline(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(bg, d)
	tb.Cleanup(cancel)
	return ctx
}

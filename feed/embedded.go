package feed

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedOptions configure an in-process NATS server with JetStream.
type EmbeddedOptions struct {
	// StoreDir holds JetStream's files. Required.
	StoreDir string
	// Listen is the client address, e.g. "127.0.0.1:4222". Empty: no
	// listener, in-process connections only (nats.InProcessServer).
	Listen string
	// ListenFlag names the flag that sets Listen, for error messages.
	ListenFlag string
	// Stream is the name of the stream the publisher uses: its user may
	// manage that stream only. Default "ALMANAC".
	Stream string
	// Readers are the read-only users (ReadReaders parses a file of
	// them). Nil: only the publisher may connect.
	Readers []Reader
	// StartTimeout bounds the wait for the server to accept clients.
	// Default 10s.
	StartTimeout time.Duration

	// Tests only: password replaces the random publisher password (a
	// restarted server the same connection reconnects to), and
	// extraUsers are added as they are (an operator).
	password   string
	extraUsers []*server.User
}

// Reader is a read-only user of the embedded server: it may look up
// streams, read messages and create, use and delete consumers, but never
// publish to the stream's subjects, delete or purge messages, or change a
// stream.
type Reader struct {
	// Name is the NATS user name.
	Name string
	// PasswordHash is a bcrypt hash ($2a$, $2b$ or $2y$, as htpasswd -B
	// writes): nats-server compares the client's password with it.
	PasswordHash string
}

// Embedded is a running embedded nats-server. Authorization is on: the
// publisher's user has a random password made at start and kept only in
// memory, readers are the EmbeddedOptions.Readers, and anonymous clients
// are refused.
type Embedded struct {
	*server.Server
	user, password string
}

// PublisherUser is the NATS user name of the in-process publisher.
const PublisherUser = "almanac-publisher"

// Auth returns the connect option with the publisher's credential.
func (e *Embedded) Auth() nats.Option { return nats.UserInfo(e.user, e.password) }

// Connect connects to the server as the publisher (in-process when the
// server does not listen); opts come after.
func (e *Embedded) Connect(opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{e.Auth()}, opts...)
	if e.Addr() == nil {
		opts = append(opts, nats.InProcessServer(e.Server))
	}
	return nats.Connect(e.ClientURL(), opts...)
}

// publisherPermissions: the stream's subjects and the JetStream API calls
// the publisher makes on its stream (look up, create and update it, read and
// securely delete messages for purges, ordered consumers to find them).
func publisherPermissions(stream string) *server.Permissions {
	api := "$JS.API."
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			SubjectPrefix + ".>",
			api + "INFO",
			api + "STREAM.INFO." + stream,
			api + "STREAM.CREATE." + stream,
			api + "STREAM.UPDATE." + stream,
			api + "STREAM.MSG.GET." + stream,
			api + "STREAM.MSG.DELETE." + stream,
			api + "DIRECT.GET." + stream,
			api + "DIRECT.GET." + stream + ".>",
			api + "CONSUMER.CREATE." + stream + ".>",
			api + "CONSUMER.DELETE." + stream + ".>",
			api + "CONSUMER.INFO." + stream + ".>",
			api + "CONSUMER.MSG.NEXT." + stream + ".>",
			"$JS.FC." + stream + ".>",
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
}

// readerPermissions: JetStream reads and consumers, acks and flow
// control; no publish to the stream's subjects (the deny list says it
// again for whoever edits the allow list), no message deletion, purge or
// stream change.
func readerPermissions() *server.Permissions {
	api := "$JS.API."
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: []string{
				api + "INFO",
				api + "STREAM.INFO.>",
				api + "STREAM.NAMES",
				api + "STREAM.LIST",
				api + "STREAM.MSG.GET.>",
				api + "DIRECT.GET.>",
				api + "CONSUMER.>",
				"$JS.ACK.>",
				"$JS.FC.>",
			},
			Deny: []string{
				SubjectPrefix + ".>",
				api + "STREAM.MSG.DELETE.>",
				api + "STREAM.PURGE.>",
				api + "STREAM.DELETE.>",
				api + "STREAM.UPDATE.>",
				api + "STREAM.CREATE.>",
			},
		},
	}
}

var bcryptHash = regexp.MustCompile(`^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$`)

// ReadReaders parses a file of read-only NATS users, one "name:hash" a
// line as `htpasswd -nB name` writes it; blank lines and lines starting
// with # are skipped. Only bcrypt hashes are accepted, so the file never
// holds a password in clear.
func ReadReaders(r io.Reader) ([]Reader, error) {
	var out []Reader
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok || name == "":
			return nil, fmt.Errorf("line %d: want name:bcrypt-hash", n)
		case strings.ContainsAny(name, " \t"):
			return nil, fmt.Errorf("line %d: user name %q contains a space", n, name)
		case name == PublisherUser:
			return nil, fmt.Errorf("line %d: user name %q is the publisher's", n, name)
		case seen[name]:
			return nil, fmt.Errorf("line %d: user %q listed twice", n, name)
		case !bcryptHash.MatchString(hash):
			return nil, fmt.Errorf("line %d: user %q: the password must be a bcrypt hash (htpasswd -nB %s)", n, name, name)
		}
		seen[name] = true
		out = append(out, Reader{Name: name, PasswordHash: hash})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// StartEmbedded starts a nats-server with JetStream in this process. A
// Listen address that is taken fails at once with an error naming
// ListenFlag. Stop it with Shutdown and WaitForShutdown.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	if o.StoreDir == "" {
		return nil, errors.New("feed: EmbeddedOptions.StoreDir is required")
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 10 * time.Second
	}
	if o.Stream == "" {
		o.Stream = "ALMANAC"
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, fmt.Errorf("nats: publisher password: %w", err)
	}
	e := &Embedded{user: PublisherUser, password: hex.EncodeToString(secret[:])}
	if o.password != "" {
		e.password = o.password
	}
	// nats-server's own authorization: with Users set, a client without a
	// listed user's credential is refused.
	users := []*server.User{{Username: e.user, Password: e.password, Permissions: publisherPermissions(o.Stream)}}
	for _, r := range o.Readers {
		users = append(users, &server.User{Username: r.Name, Password: r.PasswordHash, Permissions: readerPermissions()})
	}
	users = append(users, o.extraUsers...)
	opts := &server.Options{
		ServerName: "almanac",
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		Users:      users,
	}
	if o.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats: %s %q: %w", o.ListenFlag, o.Listen, err)
		}
		// nats-server reports a taken port only through its log; probe it
		// first so the operator gets a clear error.
		if port != 0 {
			l, err := net.Listen("tcp", o.Listen)
			if err != nil {
				return nil, fmt.Errorf("nats: cannot listen on %s (change %s, or use --nats=off or --nats-url): %w", o.Listen, o.ListenFlag, err)
			}
			_ = l.Close()
		} else {
			port = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, port
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats: embedded server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(o.StartTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("nats: embedded server did not start within %v (listen %q, set by %s)", o.StartTimeout, o.Listen, o.ListenFlag)
	}
	e.Server = ns
	return e, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}

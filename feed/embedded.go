package feed

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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
	// StartTimeout bounds the wait for the server to accept clients.
	// Default 10s.
	StartTimeout time.Duration
}

// StartEmbedded starts a nats-server with JetStream in this process. A
// Listen address that is taken fails at once with an error naming
// ListenFlag. Stop it with Shutdown and WaitForShutdown.
func StartEmbedded(o EmbeddedOptions) (*server.Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("feed: EmbeddedOptions.StoreDir is required")
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 10 * time.Second
	}
	opts := &server.Options{
		ServerName: "almanac",
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
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
	return ns, nil
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

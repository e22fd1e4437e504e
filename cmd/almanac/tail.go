package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"golang.org/x/term"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

func init() {
	register(Command{
		Name:    "tail",
		Usage:   "--user U [--server ADDR] [--from SEQ] [--collection PATH] [--json] [--token T] [--tls] [--tls-ca FILE]",
		Summary: "print the live change feed over gRPC (password from ALMANAC_PASSWORD or a prompt)",
		Run: func(ctx context.Context, args []string) error {
			return runTail(ctx, args, os.Stdout, os.Getenv)
		},
	})
}

type tailConfig struct {
	server, user, token, collection, tlsCA string
	from                                   uint64
	json, tls                              bool
}

func runTail(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	var c tailConfig
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.server, "server", "127.0.0.1:8080", "`address` of the server's gRPC feed: its --listen address, or --grpc-listen's")
	fs.StringVar(&c.user, "user", "", "user `name` (Basic credentials)")
	fs.StringVar(&c.token, "token", "", "API `token` instead of a user and password")
	fs.Uint64Var(&c.from, "from", 0, "first `seq` to print (0: only new changes)")
	fs.StringVar(&c.collection, "collection", "", "only collections whose path starts with `PATH`")
	fs.BoolVar(&c.json, "json", false, "print one JSON object per line")
	fs.BoolVar(&c.tls, "tls", false, "connect with TLS")
	fs.StringVar(&c.tlsCA, "tls-ca", "", "CA certificate `file` for --tls")
	if err := parseLayered(fs, args, getenv, false); err != nil {
		return err
	}
	auth, err := c.authorization(getenv)
	if err != nil {
		return err
	}
	tc := insecure.NewCredentials()
	if c.tls || c.tlsCA != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.tlsCA != "" {
			pem, err := os.ReadFile(c.tlsCA)
			if err != nil {
				return fmt.Errorf("tail: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("tail: no certificate in %s", c.tlsCA)
			}
		}
		tc = credentials.NewTLS(cfg)
	}
	cc, err := grpc.NewClient(c.server, grpc.WithTransportCredentials(tc),
		grpc.WithPerRPCCredentials(authCreds{auth, c.tls || c.tlsCA != ""}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	defer cc.Close()
	client := feedv1.NewChangeFeedServiceClient(cc)
	from := c.from
	if from == 0 {
		h, err := client.Head(ctx, &feedv1.HeadRequest{})
		if err != nil {
			return fmt.Errorf("tail: %w", err)
		}
		from = h.Seq + 1
	}
	return tailStream(ctx, client, &feedv1.SubscribeRequest{FromSeq: from, CollectionPrefix: c.collection}, stdout, c.json)
}

// tailStream prints changes until ctx ends, resubscribing from the last
// seq + 1 after a cut-off or a lost connection.
func tailStream(ctx context.Context, client feedv1.ChangeFeedServiceClient, req *feedv1.SubscribeRequest, w io.Writer, asJSON bool) error {
	for {
		s, err := client.Subscribe(ctx, req)
		for err == nil {
			var resp *feedv1.SubscribeResponse
			if resp, err = s.Recv(); err != nil {
				break
			}
			for _, ch := range resp.Changes {
				if err := printChange(w, ch, asJSON); err != nil {
					return err
				}
				req.FromSeq = ch.Seq + 1
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		switch status.Code(err) {
		case codes.ResourceExhausted, codes.Unavailable:
			fmt.Fprintf(os.Stderr, "tail: %v; resuming from %d\n", status.Convert(err).Message(), req.FromSeq)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		default:
			return fmt.Errorf("tail: %w", err)
		}
	}
}

// tailLine is the --json output: one object per change.
type tailLine struct {
	Seq          uint64    `json:"seq"`
	Time         time.Time `json:"time"`
	Op           string    `json:"op"`
	Actor        string    `json:"actor"`
	UserAgent    string    `json:"user_agent,omitempty"`
	Principal    string    `json:"principal"`
	Collection   string    `json:"collection"`
	Object       string    `json:"object,omitempty"`
	UID          string    `json:"uid,omitempty"`
	ETag         string    `json:"etag,omitempty"`
	ToCollection string    `json:"to_collection,omitempty"`
	ToObject     string    `json:"to_object,omitempty"`
}

func printChange(w io.Writer, ch *feedv1.Change, asJSON bool) error {
	op := engine.Op(ch.Op).String()
	if asJSON {
		b, err := json.Marshal(tailLine{
			Seq: ch.Seq, Time: ch.Time.AsTime(), Op: op, Actor: ch.Actor, UserAgent: ch.UserAgent, Principal: ch.Principal,
			Collection: ch.Collection, Object: ch.Object, UID: ch.Uid, ETag: ch.Etag, ToCollection: ch.ToCollection, ToObject: ch.ToObject,
		})
		if err != nil {
			return fmt.Errorf("tail: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	dest := ""
	if ch.Op == feedv1.Op_OP_OBJECT_MOVED {
		dest = " -> " + ch.ToCollection + ch.ToObject
	}
	_, err := fmt.Fprintf(w, "%d %s %-18s %s %s%s%s %s\n", ch.Seq, ch.Time.AsTime().Format(time.RFC3339), op, ch.Actor,
		ch.Collection, ch.Object, dest, ch.Etag)
	return err
}

// authorization returns the "authorization" metadata value.
func (c *tailConfig) authorization(getenv func(string) string) (string, error) {
	if c.token != "" {
		return "Bearer " + c.token, nil
	}
	if c.user == "" {
		return "", fmt.Errorf("%w: tail needs --user or --token", errUsage)
	}
	pw := getenv("ALMANAC_PASSWORD")
	if pw == "" {
		if !term.IsTerminal(int(os.Stdin.Fd())) {
			return "", errors.New("tail: set ALMANAC_PASSWORD or run on a terminal to be prompted")
		}
		fmt.Fprintf(os.Stderr, "password for %s: ", c.user)
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", fmt.Errorf("tail: read password: %w", err)
		}
		pw = string(b)
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.user+":"+pw)), nil
}

// authCreds sends the authorization with every call.
type authCreds struct {
	value  string
	secure bool
}

func (a authCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": a.value}, nil
}

func (a authCreds) RequireTransportSecurity() bool { return a.secure }

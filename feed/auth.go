package feed

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/almanac/almanac/engine"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// PasswordVerifier checks a user's password; *auth.Verifier of package
// dav/auth implements it.
type PasswordVerifier interface {
	Authenticate(ctx context.Context, user, password, remoteAddr string) (*engine.User, error)
}

// BearerVerifier checks bearer tokens of an outside issuer (an OpenID
// Connect provider); *auth.Verifier of package dav/auth implements it.
type BearerVerifier interface {
	AuthenticateBearer(ctx context.Context, token, remoteAddr, userAgent string) (*engine.User, error)
}

// errNoCredentials is returned for a call without usable credentials.
var errNoCredentials = errors.New("feed: missing or malformed authorization metadata")

type principalKey struct{}

// principalFrom returns the caller the interceptors authenticated.
func principalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// authenticate reads the "authorization" metadata: Basic credentials are
// checked with the password verifier, Bearer tokens against the users'
// stored token hashes. A login refused for now is no Unauthenticated:
// rate limited is ResourceExhausted; a bound of the server (an error
// with Limit() string, as dav/auth's *BusyError) or an issuer down is
// Unavailable.
func (s *Server) authenticate(ctx context.Context) (Principal, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) != 1 {
		return Principal{}, status.Error(codes.Unauthenticated, errNoCredentials.Error())
	}
	scheme, cred, _ := strings.Cut(vals[0], " ")
	var u *engine.User
	var err error
	switch strings.ToLower(scheme) {
	case "basic":
		u, err = s.basic(ctx, strings.TrimSpace(cred))
	case "bearer":
		u, err = s.anyBearer(ctx, strings.TrimSpace(cred))
	default:
		return Principal{}, status.Error(codes.Unauthenticated, errNoCredentials.Error())
	}
	if err != nil {
		if s.opts.RateLimited != nil && s.opts.RateLimited(err) {
			return Principal{}, status.Error(codes.ResourceExhausted, "too many failed attempts; try again later")
		}
		var busy interface {
			Limit() string
			ServiceUnavailable() int
		}
		if errors.As(err, &busy) { // a bound of the server (dav/auth's *BusyError): no failed login
			return Principal{}, status.Errorf(codes.Unavailable, "%s; retry in %d seconds", busy.Limit(), max(1, busy.ServiceUnavailable()))
		}
		var su interface{ ServiceUnavailable() int }
		if errors.As(err, &su) {
			return Principal{}, status.Error(codes.Unavailable, "the token issuer is not answering; try again later")
		}
		s.authLog.Log(ctx, remoteAddr(ctx), slog.String("err", err.Error()))
		return Principal{}, status.Error(codes.Unauthenticated, "bad credentials")
	}
	return Principal{Name: u.Name, Admin: u.Role == engine.RoleAdmin}, nil
}

func (s *Server) basic(ctx context.Context, cred string) (*engine.User, error) {
	if s.opts.Passwords == nil {
		return nil, fmt.Errorf("feed: password authentication is not configured")
	}
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return nil, fmt.Errorf("feed: basic credentials: %w", err)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, errNoCredentials
	}
	u, err := s.opts.Passwords.Authenticate(ctx, user, pass, remoteAddr(ctx))
	if err != nil {
		return nil, fmt.Errorf("feed: user %q: %w", user, err)
	}
	return u, nil
}

// anyBearer checks an API token ("<id>.<secret>", one dot) against the
// engine's token hashes and any other token (a JWT has two dots) with
// Options.Bearer.
func (s *Server) anyBearer(ctx context.Context, tok string) (*engine.User, error) {
	if strings.Count(tok, ".") == 1 || s.opts.Bearer == nil {
		return s.bearer(tok)
	}
	u, err := s.opts.Bearer.AuthenticateBearer(ctx, tok, remoteAddr(ctx), userAgent(ctx))
	if err != nil {
		return nil, fmt.Errorf("feed: bearer token: %w", err)
	}
	return u, nil
}

func remoteAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

func userAgent(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if ua := md.Get("user-agent"); len(ua) > 0 {
		return ua[0]
	}
	return ""
}

// bearer finds the user that holds the token through the engine's token
// index; the hash is checked against the current account record, so a
// revoked token, or a token of a disabled account, fails at once.
func (s *Server) bearer(tok string) (*engine.User, error) {
	id, secret, ok := splitToken(tok)
	if !ok {
		return nil, errNoCredentials
	}
	v, err := s.opts.DB.View()
	if err != nil {
		return nil, fmt.Errorf("feed: token: %w", err)
	}
	defer v.Close()
	u, err := v.UserByToken(id)
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		return nil, fmt.Errorf("feed: token: %w", err)
	}
	if err != nil || u.Disabled || !checkToken(u, id, secret) {
		return nil, fmt.Errorf("feed: token %q: unknown or revoked", id)
	}
	return u, nil
}

// unaryAuth authenticates every unary call.
func (s *Server) unaryAuth(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if skipAuth(ctx) {
		return h(ctx, req)
	}
	p, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	return h(context.WithValue(ctx, principalKey{}, p), req)
}

// streamAuth authenticates every streaming call.
func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if !strings.HasPrefix(info.FullMethod, "/almanac.feed.") {
		return h(srv, ss) // health watch and reflection carry no data
	}
	p, err := s.authenticate(ss.Context())
	if err != nil {
		return err
	}
	return h(srv, &authedStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), principalKey{}, p)})
}

// skipAuth reports whether a unary call is outside the feed service
// (health checks), which needs no credentials.
func skipAuth(ctx context.Context) bool {
	m, ok := grpc.Method(ctx)
	return ok && !strings.HasPrefix(m, "/almanac.feed.")
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a *authedStream) Context() context.Context { return a.ctx }

package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/almanac/almanac/change"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/logbound"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// Options configure a Server. The zero value of every field but DB means
// its default.
type Options struct {
	// DB is the store whose log is served. Required.
	DB *engine.DB
	// Passwords verifies Basic credentials. Nil: only API tokens work.
	Passwords PasswordVerifier
	// Bearer verifies bearer tokens that are not API tokens (OpenID
	// Connect access tokens, auth.Verifier.AuthenticateBearer). Nil: only
	// API tokens work as bearer tokens.
	Bearer BearerVerifier
	// RateLimited reports whether an error of Passwords means the caller
	// is rate limited (answered RESOURCE_EXHAUSTED, not UNAUTHENTICATED).
	// Nil: never.
	RateLimited func(error) bool
	// Logger receives the feed's logs. Default: discard.
	Logger *slog.Logger
	// SendBuffer is how many changes may wait for one subscriber's stream.
	// Default 256.
	SendBuffer int
	// MaxLag bounds how far a live subscriber may fall behind: when its
	// send buffer is full and the head is more than MaxLag events past the
	// last change it took, it is cut off with RESOURCE_EXHAUSTED. A
	// subscriber replaying history is never cut off. Default 10000.
	MaxLag int
	// Metrics, when set, receives the subscriber gauges.
	Metrics *Metrics
}

// Server implements almanac.feed.v1.ChangeFeedService over an engine.DB.
type Server struct {
	feedv1.UnimplementedChangeFeedServiceServer

	opts Options
	conv *change.Converter
	// authLog writes the failed logins, which a client can cause at
	// will, within logbound's budgets.
	authLog *logbound.Limiter
}

// NewServer returns a Server for opts.DB.
func NewServer(opts Options) (*Server, error) {
	if opts.DB == nil {
		return nil, errors.New("feed: Options.DB is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SendBuffer <= 0 {
		opts.SendBuffer = 256
	}
	if opts.MaxLag <= 0 {
		opts.MaxLag = 10000
	}
	return &Server{opts: opts, conv: change.NewConverter(opts.DB),
		authLog: logbound.New(opts.Logger, slog.LevelInfo, "feed: authentication failed", logbound.Limits{})}, nil
}

// ServerOptions returns the interceptors that authenticate every feed
// call; pass them to grpc.NewServer.
func (s *Server) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(s.unaryAuth), grpc.ChainStreamInterceptor(s.streamAuth)}
}

// MaxHeaderListSize bounds the metadata (headers) of one call on a
// server of NewGRPCServer, as serve's HTTP listener bounds a request's
// headers: gRPC's default of 16 MiB would let any client, before it is
// authenticated, make the server read and check megabytes of
// credentials.
const MaxHeaderListSize = 64 << 10

// NewGRPCServer returns a gRPC server with the feed service, health
// checking (reporting SERVING) and server reflection registered, plus extra
// options such as TLS credentials. Its Stop waits for the handlers to
// return (they end when Stop cancels their streams): a Subscribe still
// reading the log after Stop would read a database closed meanwhile.
// A call's metadata is bounded to MaxHeaderListSize.
func (s *Server) NewGRPCServer(extra ...grpc.ServerOption) *grpc.Server {
	opts := append(s.ServerOptions(), grpc.WaitForHandlers(true), grpc.MaxHeaderListSize(MaxHeaderListSize))
	g := grpc.NewServer(append(opts, extra...)...)
	feedv1.RegisterChangeFeedServiceServer(g, s)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(feedv1.ChangeFeedService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(g, hs)
	reflection.Register(g)
	return g
}

// caller returns the authenticated principal of a call.
func caller(ctx context.Context) (Principal, error) {
	p, ok := principalFrom(ctx)
	if !ok {
		return Principal{}, status.Error(codes.Unauthenticated, "not authenticated")
	}
	return p, nil
}

// Head returns, to an admin, the sequence number of the last durable
// event; to a user, that of the last event of their own collections (0
// when there is none), so that no user learns how many writes everyone
// made. Either way, Subscribe from Head + 1 sends only what comes next.
func (s *Server) Head(ctx context.Context, _ *feedv1.HeadRequest) (*feedv1.HeadResponse, error) {
	who, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if who.Admin {
		return &feedv1.HeadResponse{Seq: uint64(s.opts.DB.Head())}, nil
	}
	v, err := s.opts.DB.View()
	if err != nil {
		return nil, grpcError(err)
	}
	defer v.Close()
	seq, err := v.LastOwned(who.Name)
	if err != nil {
		return nil, grpcError(err)
	}
	return &feedv1.HeadResponse{Seq: uint64(seq)}, nil
}

// GetEvent returns one change the caller may read. A seq that does not
// exist, an account event and a change of another user's collection all
// answer the same NOT_FOUND, after the same work: the body is added only
// once the caller may read the change.
func (s *Server) GetEvent(ctx context.Context, req *feedv1.GetEventRequest) (*feedv1.GetEventResponse, error) {
	who, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	notFound := status.Errorf(codes.NotFound, "no change %d", req.GetSeq())
	v, err := s.opts.DB.View()
	if err != nil {
		return nil, grpcError(err)
	}
	defer v.Close()
	ev, err := v.Event(engine.Seq(req.GetSeq()))
	if errors.Is(err, engine.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, grpcError(err)
	}
	ch, err := s.conv.Change(v, ev, false, 0)
	if err != nil {
		return nil, grpcError(err)
	}
	if ch == nil {
		return nil, notFound
	}
	readable, err := s.readable(v, who)
	if err != nil {
		return nil, grpcError(err)
	}
	if ok, err := readable(ev.Seq, ch); err != nil {
		return nil, grpcError(err)
	} else if !ok {
		return nil, notFound
	}
	if req.GetIncludeBody() {
		ch.Body = ev.Body
	}
	return &feedv1.GetEventResponse{Change: ch}, nil
}

// History limits.
const (
	defaultHistoryLimit = 100
	maxHistoryLimit     = 10000
)

// History returns the changes of a collection ("/…/cal/") or of one object
// ("/…/cal/x.ics") the caller may read, newest first, one page at a time.
func (s *Server) History(ctx context.Context, req *feedv1.HistoryRequest) (*feedv1.HistoryResponse, error) {
	who, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	path := req.GetPath()
	if !strings.HasPrefix(path, "/") {
		return nil, status.Errorf(codes.InvalidArgument, "path %q: want an absolute collection or object path", path)
	}
	limit := int(req.GetLimit())
	if limit == 0 {
		limit = defaultHistoryLimit
	}
	limit = min(limit, maxHistoryLimit)
	v, err := s.opts.DB.View()
	if err != nil {
		return nil, grpcError(err)
	}
	defer v.Close()
	// Authorize before reading any history: another user's collection and
	// a path that never existed answer alike, and cost alike.
	if ok, err := s.mayReadPath(v, who, path); err != nil {
		return nil, grpcError(err)
	} else if !ok {
		return nil, status.Errorf(codes.NotFound, "no history at %s", path)
	}
	readable, err := s.readable(v, who)
	if err != nil {
		return nil, grpcError(err)
	}
	var evs []*engine.Event
	if strings.HasSuffix(path, "/") {
		evs, err = v.CollectionHistory(path, time.Time{}, time.Time{})
	} else {
		i := strings.LastIndexByte(path, '/')
		evs, err = v.History(path[:i+1], path[i+1:])
	}
	if err != nil {
		return nil, grpcError(err)
	}
	resp := &feedv1.HistoryResponse{}
	for i := len(evs) - 1; i >= 0; i-- {
		ev := evs[i]
		if req.GetBeforeSeq() != 0 && uint64(ev.Seq) >= req.GetBeforeSeq() {
			continue
		}
		ch, err := s.conv.Change(v, ev, req.GetIncludeBody(), 0)
		if err != nil {
			return nil, grpcError(err)
		}
		if ch == nil {
			continue
		}
		if ok, err := readable(ev.Seq, ch); err != nil {
			return nil, grpcError(err)
		} else if !ok {
			continue
		}
		if len(resp.Changes) == limit {
			resp.NextBeforeSeq = resp.Changes[limit-1].Seq
			break
		}
		resp.Changes = append(resp.Changes, ch)
	}
	return resp, nil
}

// readable returns what decides whether who may read a change (the
// event seq): what Subscribe streams to them without a filter. An
// administrator reads every change; a user their own, and those of
// View.ReadableLog (collections shared with them at read or more, homes
// they are a delegate of, as the view decides), sharing events only when
// they name them.
func (s *Server) readable(v *engine.View, who Principal) (func(engine.Seq, *feedv1.Change) (bool, error), error) {
	if who.Admin || who.Name == "" {
		return func(_ engine.Seq, ch *feedv1.Change) (bool, error) { return who.mayRead(ch), nil }, nil
	}
	inLog, err := v.Readable(who.Name)
	if err != nil {
		return nil, err
	}
	return func(seq engine.Seq, ch *feedv1.Change) (bool, error) {
		if who.mayRead(ch) {
			return true, nil
		}
		if !(change.Filter{Reader: who.Name, Admin: who.Admin}).Match(ch) {
			return false, nil
		}
		return inLog(seq)
	}, nil
}

// mayReadPath reports whether who owns a collection that ever had the
// collection path (or, for an object path, its collection's path), or
// may read the collection that has it now (a share at read or more, a
// delegation): only then can a History of it hold a change who may read.
// It looks up the path's collection ids and their owners, and the
// caller's access to the path, nothing else.
func (s *Server) mayReadPath(v *engine.View, who Principal, path string) (bool, error) {
	coll := path[:strings.LastIndexByte(path, '/')+1]
	ids, err := v.CollectionIDs(coll)
	if err != nil || len(ids) == 0 {
		return false, err
	}
	if who.Admin {
		return true, nil
	}
	for _, id := range ids {
		ci, err := s.conv.Collection(v, id, coll)
		if err != nil {
			return false, err
		}
		if who.Name != "" && ci.Owner == who.Name {
			return true, nil
		}
	}
	if who.Name == "" {
		return false, nil
	}
	r, err := v.Access(who.Name, coll)
	if errors.Is(err, engine.ErrNotFound) {
		return false, nil
	}
	return err == nil && r.Access >= engine.AccessRead, err
}

// grpcError maps engine errors to statuses; this is the only place the
// feed turns errors into gRPC codes besides authentication.
func grpcError(err error) error {
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, engine.ErrClosed):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, fmt.Sprintf("feed: %v", err))
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

func init() {
	registerServeHook(ServeHook{
		Name: "debug",
		Flags: func(fs *flag.FlagSet) StartFunc {
			listen := fs.String("debug-listen", "", "serve Go's profiler (/debug/pprof/) on this `address`, e.g. 127.0.0.1:6060; off when empty")
			return func(ctx context.Context, env *ServeEnv) (func(context.Context) error, error) {
				return startDebug(ctx, env, *listen)
			}
		},
	})
}

// startDebug serves net/http/pprof on its own listener at debugListen, never
// on the DAV address: profiles show request data, so keep it on loopback.
func startDebug(_ context.Context, env *ServeEnv, debugListen string) (func(context.Context) error, error) {
	if debugListen == "" {
		return func(context.Context) error { return nil }, nil
	}
	ln, err := net.Listen("tcp", debugListen)
	if err != nil {
		return nil, fmt.Errorf("--debug-listen %s: %w", debugListen, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			env.Logger.Error("debug listener", "err", err)
		}
	}()
	env.Logger.Info("profiler listening", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return srv.Shutdown, nil
}

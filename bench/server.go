package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/almanac/almanac/internal/testport"
)

// Server is a server process the bench started, with its fresh data
// directory. Stop ends it and removes the directory.
type Server struct {
	Target
	Feed   FeedAddrs // where the change feed listens, when it was started
	proc   *os.Process
	exited chan struct{} // closed once the process has been reaped
	err    error         // how the process ended, valid after exited closes
	dir    string        // temporary directory holding data and config
	// extraPorts are free ports, distinct from the HTTP one, for the
	// server's other listeners.
	extraPorts []int
	ports      *testport.Reservation // the HTTP port and extraPorts, held until Stop
	log        *os.File
}

// Stop kills the server process and removes its temporary directory.
func (s *Server) Stop() error {
	if s.proc != nil {
		_ = s.proc.Kill()
		<-s.exited
	}
	if s.log != nil {
		_ = s.log.Close()
	}
	s.ports.Release()
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("stop %s: remove %s: %w", s.Name, s.dir, err)
	}
	return nil
}

// Shutdown asks the server process to stop (SIGTERM) and waits for it, up
// to 60 seconds before it kills it; the directory stays (Stop removes it).
func (s *Server) Shutdown() error {
	if s.proc == nil {
		return nil
	}
	_ = s.proc.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		_ = s.proc.Kill()
		<-s.exited
		s.proc = nil
		return fmt.Errorf("stop %s: no exit within 60s of SIGTERM: killed", s.Name)
	}
	s.proc = nil
	return nil
}

// LogPath is the file that holds the server's stdout and stderr.
func (s *Server) LogPath() string { return filepath.Join(s.dir, "server.log") }

// Bench user credentials for every started server.
const (
	BenchUser     = "bench"
	BenchPassword = "bench-secret"
)

// startWait bounds a server's start: a race-built Almanac, or Python's
// start of a peer, on 2 cores under a test run's load 30 takes many
// seconds; start returns as soon as the server answers.
const startWait = 2 * time.Minute

// start runs name with args (the server log goes to dir/server.log) and
// waits until probe answers over HTTP with any status below 500 but 404,
// from a socket the process holds.
func start(ctx context.Context, s *Server, probe string, name string, args ...string) error {
	f, err := os.Create(s.LogPath())
	if err != nil {
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	s.log = f
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	s.proc, s.PID, s.exited = cmd.Process, cmd.Process.Pid, make(chan struct{})
	go func() { s.err = cmd.Wait(); close(s.exited) }()
	c := NewClient(s.Target, 1)
	deadline := time.Now().Add(startWait)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			s.proc = nil
			log, _ := os.ReadFile(s.LogPath())
			return fmt.Errorf("start %s: exited early (%v): %.2000s", s.Name, s.err, log)
		case <-ctx.Done():
			return fmt.Errorf("start %s: %w", s.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := c.Do(ctx, "PROPFIND", probe, map[string]string{"Depth": "0"}, nil)
		if err != nil || resp.Status >= 500 || resp.Status == http.StatusNotFound {
			continue
		}
		// The answer may come from another process on the port (see
		// testport): CI once measured a parallel test's server, which
		// refused the bench user with 401.
		port, _ := strconv.Atoi(s.port())
		ours, err := testport.ListensOn(s.PID, port)
		if err != nil {
			return fmt.Errorf("start %s: %w", s.Name, err)
		}
		if ours {
			return nil
		}
	}
	return fmt.Errorf("start %s: no answer from its own process within %s; log in %s", s.Name, startWait, s.LogPath())
}

// newServer makes a Server with a fresh directory, an HTTP port and
// extraPorts more distinct ports for the server's other listeners, held
// (testport.Reserve) until Stop.
func newServer(name string, extraPorts int) (*Server, error) {
	ports, err := testport.Reserve(1 + extraPorts)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	dir, err := os.MkdirTemp("", "almanac-bench-"+name+"-")
	if err != nil {
		ports.Release()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &Server{dir: dir, extraPorts: ports.Ports[1:], ports: ports, Target: Target{
		Name: name, BaseURL: "http://127.0.0.1:" + strconv.Itoa(ports.Ports[0]),
		User: BenchUser, Password: BenchPassword, DataDir: filepath.Join(dir, "data"),
	}}, nil
}

func (s *Server) port() string { return s.BaseURL[len("http://127.0.0.1:"):] }

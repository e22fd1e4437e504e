package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// StartRadicale starts Debian's radicale with a fresh storage folder and a
// plain-text htpasswd user (Debian's radicale has neither bcrypt nor md5
// without passlib, so plain is the one method that needs no extra module;
// it also makes Radicale's auth cheaper than Almanac's bcrypt).
func StartRadicale(ctx context.Context) (*Server, error) {
	return retryBind(func() (*Server, error) { return startRadicale(ctx) })
}

func startRadicale(ctx context.Context) (*Server, error) {
	s, err := newServer("radicale", 0)
	if err != nil {
		return nil, err
	}
	users := filepath.Join(s.dir, "users")
	conf := filepath.Join(s.dir, "config")
	cfg := fmt.Sprintf(`[server]
hosts = 127.0.0.1:%s
max_connections = 64
timeout = 600
max_content_length = 100000000
[auth]
type = htpasswd
htpasswd_filename = %s
htpasswd_encryption = plain
[rights]
type = owner_only
[storage]
filesystem_folder = %s
[logging]
level = warning
`, s.port(), users, s.DataDir)
	if err := writeFiles(map[string]string{users: BenchUser + ":" + BenchPassword + "\n", conf: cfg}); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("start radicale: %w", err)
	}
	s.CalendarHome = "/" + BenchUser + "/"
	s.AddressBook = "/" + BenchUser + "/contacts/"
	if err := start(ctx, s, "/"+BenchUser+"/", "radicale", "--config", conf); err != nil {
		_ = s.Stop()
		return nil, err
	}
	c := NewClient(s.Target, 1)
	if err := c.MkAddressBook(ctx, s.AddressBook); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("start radicale: %w", err)
	}
	return s, nil
}

// StartXandikos starts Debian's xandikos with --defaults, which creates the
// principal /user/ with a calendar and an address book. Xandikos has no
// authentication; the bench's Basic credentials are ignored.
func StartXandikos(ctx context.Context) (*Server, error) {
	return retryBind(func() (*Server, error) { return startXandikos(ctx) })
}

func startXandikos(ctx context.Context) (*Server, error) {
	s, err := newServer("xandikos", 0)
	if err != nil {
		return nil, err
	}
	s.CalendarHome = "/user/calendars/"
	s.AddressBook = "/user/contacts/addressbook/"
	if err := start(ctx, s, "/user/", "xandikos", "--defaults", "-d", s.DataDir,
		"-l", "127.0.0.1", "-p", s.port()); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// StartAlmanac starts the almanac binary at bin with a fresh data
// directory and a bcrypt htpasswd user (made by htpasswd -B). extra flags
// (e.g. --nats=off) are appended to `serve`.
func StartAlmanac(ctx context.Context, bin string, extra ...string) (*Server, error) {
	return startAlmanac(ctx, bin, false, extra)
}

// StartAlmanacFeed starts almanac like StartAlmanac with its change feed
// on: gRPC and the embedded NATS server on free loopback ports, which it
// records in the server's Feed.
func StartAlmanacFeed(ctx context.Context, bin string, extra ...string) (*Server, error) {
	return startAlmanac(ctx, bin, true, extra)
}

// startAlmanac starts almanac, with its feed listeners when feed is set.
func startAlmanac(ctx context.Context, bin string, feed bool, extra []string) (*Server, error) {
	return retryBind(func() (*Server, error) { return startAlmanacOnce(ctx, bin, feed, extra) })
}

// retryBind runs start again, a few times, while the server fails because
// another process took one of its ports (one that binds it by number:
// testport keeps the kernel and its own users off the ports it holds).
func retryBind(start func() (*Server, error)) (*Server, error) {
	var err error
	for range 3 {
		var s *Server
		s, err = start()
		if err == nil || !strings.Contains(err.Error(), "in use") {
			return s, err
		}
	}
	return nil, err
}

func startAlmanacOnce(ctx context.Context, bin string, feed bool, extra []string) (*Server, error) {
	extraPorts := 0
	if feed {
		extraPorts = 2
	}
	s, err := newServer("almanac", extraPorts)
	if err != nil {
		return nil, err
	}
	users := filepath.Join(s.dir, "htpasswd")
	if out, err := exec.Command("htpasswd", "-B", "-b", "-c", users, BenchUser, BenchPassword).CombinedOutput(); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("start almanac: htpasswd: %w: %s", err, out)
	}
	s.CalendarHome = "/dav/home/" + BenchUser + "/"
	s.AddressBook = s.CalendarHome + "contacts/"
	args := []string{"serve", "--listen", strings.TrimPrefix(s.BaseURL, "http://"),
		"--data", s.DataDir, "--htpasswd", users}
	if feed {
		s.Feed = FeedAddrs{
			GRPC: fmt.Sprintf("127.0.0.1:%d", s.extraPorts[0]),
			NATS: fmt.Sprintf("nats://127.0.0.1:%d", s.extraPorts[1]),
		}
		// The embedded NATS server admits only its publisher and the
		// --nats-readers users: the bench user reads the stream as one.
		readers := filepath.Join(s.dir, "nats-readers")
		if out, err := exec.Command("htpasswd", "-B", "-b", "-c", readers, BenchUser, BenchPassword).CombinedOutput(); err != nil {
			_ = s.Stop()
			return nil, fmt.Errorf("start almanac: htpasswd for NATS readers: %w: %s", err, out)
		}
		args = append(args, "--grpc-listen", s.Feed.GRPC, "--nats", "on",
			"--nats-listen", strings.TrimPrefix(s.Feed.NATS, "nats://"), "--nats-readers", readers)
	}
	if err := start(ctx, s, "/dav/principals/"+BenchUser+"/", bin, append(args, extra...)...); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func writeFiles(files map[string]string) error {
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

package engine

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/almanac/almanac/engine/internal/replay"
	"github.com/almanac/almanac/internal/testscale"
	"github.com/cockroachdb/pebble/v2"
)

const crashChildEnv = "ALMANAC_ENGINE_CRASH_CHILD"

// TestCrashSafety kills a writing child process with SIGKILL at random
// moments. After each kill the database reopens, every write the child
// saw acknowledged is there (and every acknowledged delete is gone), and
// Verify finds the projections equal to a replay of the log: nothing
// half-applied is visible. It kills 8 children times ALMANAC_TEST_SCALE.
func TestCrashSafety(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	t.Parallel()
	rounds := testscale.N(t, 8)
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	type ack struct {
		etag    string
		deleted bool
		mayGo   bool // a delete follows; it may be durable but unacknowledged
	}
	acked := map[string]ack{}
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, fmt.Sprintf("ALMANAC_CRASH_ROUND=%d", round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill once the child has acknowledged something, after a random delay.
		deadline := time.After(30 * time.Second)
		killAt := time.Duration(20+rng.Intn(200)) * time.Millisecond
		var timer <-chan time.Time
		n := 0
	read:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break read
				}
				f := strings.Fields(line)
				switch {
				case len(f) == 4 && f[0] == "put":
					acked[f[1]] = ack{etag: f[2], mayGo: f[3] == "then-delete"}
				case len(f) == 2 && f[0] == "del":
					acked[f[1]] = ack{deleted: true}
				default:
					continue
				}
				if n++; n == 1 {
					timer = time.After(killAt)
				}
			case <-timer:
				_ = cmd.Process.Signal(syscall.SIGKILL)
				timer = nil
			case <-deadline:
				_ = cmd.Process.Kill()
				t.Fatalf("round %d: child made no progress", round)
			}
		}
		_ = cmd.Wait()
		if n == 0 {
			t.Fatalf("round %d: the child acknowledged no write before it ended", round)
		}
		requireKilled(t, cmd, round)

		db, err := Open(dir+"/db", nil)
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		for name, a := range acked {
			o, err := v.Object("/crash/cal/", name, true)
			switch {
			case a.deleted && !errors.Is(err, ErrNotFound):
				t.Errorf("round %d: acknowledged delete of %s undone (%v)", round, name, err)
			case !a.deleted && a.mayGo && errors.Is(err, ErrNotFound):
			case !a.deleted && err != nil:
				t.Errorf("round %d: acknowledged put of %s lost: %v", round, name, err)
			case !a.deleted && (o.ETag != a.etag || string(o.Body) != string(crashBody(name))):
				t.Errorf("round %d: %s has etag %s and %d bytes, acknowledged %s", round, name, o.ETag, len(o.Body), a.etag)
			}
		}
		v.Close()
		if err := db.Verify(ctx); err != nil {
			t.Errorf("round %d: %v", round, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			return
		}
		t.Logf("round %d: %d acknowledged writes checked", round, len(acked))
	}
}

// requireKilled fails the test unless the child ended by the test's
// SIGKILL: a child that failed or exited on its own would otherwise pass
// a crash round without any crash having happened.
func requireKilled(t *testing.T, cmd *exec.Cmd, round int) {
	t.Helper()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("round %d: the child was not killed by SIGKILL: %v", round, cmd.ProcessState)
	}
}

// crashChild writes with 8 goroutines until it is killed, printing each
// acknowledged write.
func crashChild(dir string) {
	db, err := Open(dir+"/db", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	round := os.Getenv("ALMANAC_CRASH_ROUND")
	m := Meta{Actor: "crash"}
	_, _ = db.CreateCollection(ctx, m, CollectionSpec{Path: "/crash/", Kind: KindHome, Owner: "crash"})
	_, _ = db.CreateCollection(ctx, m, CollectionSpec{Path: "/crash/cal/", Kind: KindCalendar, Owner: "crash"})
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				name := fmt.Sprintf("r%s-g%d-%d.ics", round, g, i)
				r, err := db.PutObject(ctx, m, "/crash/cal/", name, crashBody(name), PutOptions{IfNoneMatch: true})
				if err != nil {
					fmt.Fprintln(os.Stderr, "put:", err)
					os.Exit(1)
				}
				then := "keep"
				if i%5 == 4 {
					then = "then-delete"
				}
				say("put %s %s %s", name, r.ETag, then)
				if i%5 == 4 {
					if err := db.DeleteObject(ctx, m, "/crash/cal/", name, r.ETag); err != nil {
						fmt.Fprintln(os.Stderr, "delete:", err)
						os.Exit(1)
					}
					say("del %s", name)
				}
			}
		}()
	}
	wg.Wait()
}

func crashBody(name string) []byte { return event(strings.TrimSuffix(name, ".ics")) }

const rebuildChildEnv = "ALMANAC_ENGINE_REBUILD_CHILD"

// TestCrashDuringRebuild kills a rebuilding child process with SIGKILL at
// random moments: in Open's rebuild (excise, then runs ingested) and in
// live ones (range deletions), with runs small enough that a kill can fall
// between two ingestions. After each kill, Open finishes the interrupted
// rebuild: every object is there once and Verify passes. It kills 4
// children times ALMANAC_TEST_SCALE.
func TestCrashDuringRebuild(t *testing.T) {
	if dir := os.Getenv(rebuildChildEnv); dir != "" {
		rebuildChild(dir)
		return
	}
	t.Parallel()
	const objects = 2000
	rounds := testscale.N(t, 4)
	dir := t.TempDir()
	db, err := Open(dir+"/db", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := MustCalendar(t, db)
	for i := range objects {
		name := fmt.Sprintf("e%d.ics", i)
		if _, err := db.PutObject(ctx, alice, c.Path, name, event(name), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for round := range rounds {
		if round%2 == 0 { // else the killed child's marker makes Open rebuild
			if err := db.pdb.Set(keys.MetaKey(metaProjections), []byte("stale"), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringRebuild$")
		cmd.Env = append(os.Environ(), rebuildChildEnv+"="+dir)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rng.Intn(400)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		requireKilled(t, cmd, round)

		if db, err = Open(dir+"/db", nil); err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		coll, err := db.Collection(c.Path)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if coll.Count != objects {
			t.Errorf("round %d: %d objects after the reopen, want %d", round, coll.Count, objects)
		}
		if err := db.Verify(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// rebuildChild opens the database, which rebuilds stale projections, and
// rebuilds them again until it is killed, in small runs.
func rebuildChild(dir string) {
	replay.RunBudget = 16 << 10
	db, err := Open(dir+"/db", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		if err := db.Rebuild(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "rebuild:", err)
			os.Exit(1)
		}
	}
}

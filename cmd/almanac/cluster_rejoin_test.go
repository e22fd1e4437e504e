package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
)

// lossyLog is the cluster's log as a node saw it when the log lost the
// node's last acknowledged writes: it reads the cluster's log up to head,
// and keeps what is appended after head to itself.
type lossyLog struct {
	engine.SharedLog
	head engine.Seq

	mu   sync.Mutex
	lost [][]byte
}

func (l *lossyLog) Head(context.Context) (engine.Seq, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head + engine.Seq(len(l.lost)), nil
}

func (l *lossyLog) Append(_ context.Context, after engine.Seq, recs [][]byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.head + engine.Seq(len(l.lost)); after != h {
		return &engine.LogConflictError{Head: h}
	}
	l.lost = append(l.lost, recs...)
	return nil
}

func (l *lossyLog) Read(ctx context.Context, from engine.Seq, max int) ([][]byte, error) {
	if from <= l.head {
		return l.SharedLog.Read(ctx, from, min(max, int(l.head-from+1)))
	}
	l.mu.Lock()
	if i := int(from - l.head - 1); i < len(l.lost) {
		defer l.mu.Unlock()
		return l.lost[i:min(len(l.lost), i+max)], nil
	}
	l.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestClusterRejoinDiverged: a node whose database diverged from the log
// (it holds a write the log lost, and the cluster gave that event's
// number to another write) refuses to start with --on-divergence=stop,
// its database untouched; started with the default (rejoin) it moves the
// database aside to DATA/db.diverged-TIME, kept, replays the log and
// serves the cluster's data: the write the cluster made in its absence,
// not the lost one; its log and projections are byte-identical to the
// others' and verify.
func TestClusterRejoinDiverged(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories (startCluster)
	nodes := startCluster(t, 3)
	const coll = "/dav/home/alice/cal/"
	mkcalendar(t, nodes[0], coll)
	for i := range 5 {
		path := fmt.Sprintf("%sbefore-%d.ics", coll, i)
		putAcked(t, nodes[i%3], path, clusterICS(path))
	}
	data := t.TempDir()
	n4 := addNode(t, nodes, "n4", data)
	head := caughtUp(t, append(nodes, n4))
	n4.Stop(t)

	// The node's last write was acknowledged and then lost by the log.
	lossy := &lossyLog{SharedLog: nodes[0].Main.cluster.log, head: head}
	db, err := engine.Open(filepath.Join(data, "db"), &engine.Options{Log: lossy})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutUser(context.Background(), engine.Meta{Actor: "test"}, engine.User{Name: "lost", Role: engine.RoleUser}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The cluster gave its number to another write.
	const kept = coll + "kept.ics"
	etag := putAcked(t, nodes[1], kept, clusterICS(kept))

	if s, err := startNode(t, nodes, "n4", data, "--on-divergence=stop"); err == nil || !strings.Contains(err.Error(), "diverged") {
		if err == nil {
			s.Stop(t)
		}
		t.Fatalf("a diverged node with --on-divergence=stop: %v, want an error saying it diverged", err)
	}
	if aside, _ := filepath.Glob(filepath.Join(data, "db.diverged-*")); len(aside) != 0 {
		t.Fatalf("--on-divergence=stop moved the database: %v", aside)
	}

	n4 = addNode(t, nodes, "n4", data)
	aside, _ := filepath.Glob(filepath.Join(data, "db.diverged-*"))
	if len(aside) != 1 {
		t.Fatalf("after rejoining, %d databases kept aside (%v), want 1", len(aside), aside)
	}
	if !strings.Contains(n4.Logs.String(), aside[0]) {
		t.Errorf("the node's log does not say where it kept the diverged database (%s):\n%s", aside[0], n4.Logs)
	}
	for _, line := range strings.Split(n4.Logs.String(), "\n") {
		if strings.Contains(line, "joined again from the log") {
			t.Log(line) // the rejoin's time, for README
		}
	}
	old, err := engine.Open(aside[0], &engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("the database kept aside does not open: %v", err)
	}
	if _, err := old.User("lost"); err != nil {
		t.Errorf("the database kept aside lost its own last write: %v", err)
	}
	old.Close()
	if resp, _ := n4.Do(t, http.MethodGet, kept, "alice", ""); resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != etag {
		t.Fatalf("GET %s on the rejoined node: %s, ETag %q, want %s", kept, resp.Status, resp.Header.Get("ETag"), etag)
	}
	converged(t, append(nodes, n4))
	if _, err := os.Stat(filepath.Join(data, "db")); err != nil {
		t.Fatal(err)
	}
}

// TestOnDivergenceFlag: --on-divergence takes rejoin (the default) or
// stop.
func TestOnDivergenceFlag(t *testing.T) {
	for _, v := range []string{divergenceRejoin, divergenceStop} {
		c := clusterConfig{Writes: writesForward, LeaseTTL: time.Second, JoinTimeout: time.Second, OnDivergence: v}
		if err := c.validate(); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	c := clusterConfig{Writes: writesForward, LeaseTTL: time.Second, JoinTimeout: time.Second, OnDivergence: "delete"}
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), "on-divergence") {
		t.Errorf("--on-divergence=delete: %v", err)
	}
	m := NewMain()
	m.Getenv = func(string) string { return "" }
	if err := m.ParseFlags([]string{"--data=" + t.TempDir(), "--cluster-listen=127.0.0.1:6222", "--node-name=n1"}); err != nil {
		t.Fatal(err)
	}
	if got := m.Config.Cluster.OnDivergence; got != divergenceRejoin {
		t.Errorf("--on-divergence defaults to %q, want %s", got, divergenceRejoin)
	}
}

// TestRejoinRefusal: a replica a few events ahead of the log, or whose
// last event differs, rejoins by itself; one against an empty log or far
// ahead of it (a wiped or foreign stream) does not, whatever
// --on-divergence says, since rejoining would serve an empty store.
func TestRejoinRefusal(t *testing.T) {
	diverged := func(why error) error { return fmt.Errorf("%w: %w", engine.ErrDiverged, why) }
	for _, c := range []struct {
		err    error
		refuse bool
	}{
		{diverged(errors.New("event 7 differs from the log's")), false},
		{diverged(&engine.ReplicaAheadError{Replica: 12, Log: 11}), false},
		{diverged(&engine.ReplicaAheadError{Replica: 1011, Log: 11}), false},
		{diverged(&engine.ReplicaAheadError{Replica: 1012, Log: 11}), true},
		{diverged(&engine.ReplicaAheadError{Replica: 3, Log: 0}), true},
	} {
		if got := rejoinRefusal(c.err); (got != nil) != c.refuse {
			t.Errorf("%v: refusal %v, want refused %v", c.err, got, c.refuse)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// addNode starts one more cluster node on data, routed to the nodes'
// log servers, and returns it once it serves (caught up with the log as
// it was when it opened).
func addNode(t *testing.T, nodes []*testServer, name, data string, extra ...string) *testServer {
	t.Helper()
	s, err := startNode(t, nodes, name, data, extra...)
	if err != nil {
		t.Fatalf("%s: %v\nlogs:\n%s", name, err, s.Logs)
	}
	return s
}

// startNode is addNode, returning the error of a node that did not start.
func startNode(t *testing.T, nodes []*testServer, name, data string, extra ...string) (*testServer, error) {
	t.Helper()
	var routes []string
	for _, s := range nodes {
		routes = append(routes, s.Main.Config.Cluster.ClusterListen)
	}
	logs := &syncBuffer{}
	m := NewMain()
	m.Getenv = testGetenv(nil)
	m.Stdout, m.LogOutput = logs, logs
	m.noFirstRun = true
	if err := m.ParseFlags(append([]string{"--listen=127.0.0.1:0", "--data=" + data, "--nats=off", "--grpc-listen=off",
		"--node-name=" + name, "--cluster-listen=" + freeAddrs(t, 1)[0],
		"--routes=" + strings.Join(routes, ","), "--log-replicas=3", "--cluster-join-timeout=" + testJoinTimeout.String()}, extra...)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{Main: m, Logs: logs, cancel: cancel}
	if err := m.Run(ctx); err != nil {
		cancel()
		return s, err
	}
	s.BaseURL, s.DataDir, s.DB = "http://"+m.Addr(), data, m.DB
	t.Cleanup(func() { s.Stop(t) })
	return s, nil
}

// TestClusterNodeJoin: a node added to a running cluster from a backup of
// a peer (almanac node join --checkpoint) applies only the log's tail
// after the backup, and one added on an empty data directory replays the
// whole log; afterwards both hold the same log and projections as the
// others (equal digests) and verify.
func TestClusterNodeJoin(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories (startCluster)
	nodes := startCluster(t, 3)
	mkcalendar(t, nodes[0], "/dav/home/alice/cal/")
	writes := 0
	write := func(n int) {
		t.Helper()
		for range n {
			name := fmt.Sprintf("e%d", writes)
			ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:" + name + "\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
			putAcked(t, nodes[writes%3], "/dav/home/alice/cal/"+name+".ics", ics)
			writes++
		}
	}
	write(40)
	caughtUp(t, nodes)
	backup := filepath.Join(t.TempDir(), "n2-backup")
	info, err := nodes[1].DB.Backup(context.Background(), backup)
	if err != nil {
		t.Fatal(err)
	}
	write(40)

	joined := filepath.Join(t.TempDir(), "n4")
	var out bytes.Buffer
	if err := runNode(context.Background(), []string{"join", "--checkpoint", backup, "--data", joined}, &out, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("head %d", info.Head)) {
		t.Errorf("node join says %q, want the backup's head %d", out.String(), info.Head)
	}
	if err := runNode(context.Background(), []string{"join", "--checkpoint", backup, "--data", joined}, &out, func(string) string { return "" }); err == nil {
		t.Error("a second join onto the same data directory succeeded")
	}
	n4 := addNode(t, nodes, "n4", joined)
	n5 := addNode(t, nodes, "n5", t.TempDir())
	all := append(nodes, n4, n5)
	write(10)
	converged(t, all)
	// The joined node serves what was written before and after its backup.
	for _, name := range []string{"e0", "e79", "e89"} {
		if resp, _ := n4.Do(t, http.MethodGet, "/dav/home/alice/cal/"+name+".ics", "alice", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s on the joined node: %s", name, resp.Status)
		}
	}
}

// TestClusterJoinTimeout: a node whose peers never come up gives up
// after --cluster-join-timeout with an error saying so, its embedded log
// server shut down (its route port free again). It panicked instead (the
// cleanup closed a nil log) before the fix.
func TestClusterJoinTimeout(t *testing.T) {
	t.Parallel() // its own ports and directory
	addrs := freeAddrs(t, 3)
	c := clusterConfig{ClusterName: "almanac", NodeName: "n1", ClusterListen: addrs[0],
		Routes: addrs[1] + "," + addrs[2], LogReplicas: 3, JoinTimeout: 2 * time.Second}
	cl, err := startClusterLog(context.Background(), c, t.TempDir(), 1<<20, slog.New(slog.DiscardHandler))
	if err == nil {
		cl.close()
		t.Fatal("a node alone of three opened the log")
	}
	if !strings.Contains(err.Error(), "--cluster-join-timeout") {
		t.Errorf("error %q does not name --cluster-join-timeout", err)
	}
	l, err := net.Listen("tcp", addrs[0])
	if err != nil {
		t.Fatalf("the route port is not free after the node gave up: %v", err)
	}
	l.Close()
}

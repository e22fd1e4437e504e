package clustertest

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// BenchmarkClusterFailoverKill9: three `almanac serve` processes (forwarding
// writes, the default); b.N times the node whose embedded nats-server
// leads the log stream is killed with SIGKILL, and the benchmark takes
// the time until a survivor's server leads the stream (the RAFT election)
// and until a PUT through a survivor is answered 201 (what a client
// retrying at once sees); then the killed node is started again and
// rejoins before the next kill. It reports the distribution over the
// kills: run it with -benchtime 10x or more,
//
//	go test -run '^$' -bench BenchmarkClusterFailoverKill9 -benchtime 12x ./cmd/almanac/clustertest
//
// The election dominates: nats-server v2.15.2 waits a random 4-9 s
// without a leader's heartbeat before a follower campaigns
// (minElectionTimeoutDefault/maxElectionTimeoutDefault in server/raft.go,
// package variables no option sets); README's "Clustering" says why no
// supported way shortens it.
func BenchmarkClusterFailoverKill9(b *testing.B) {
	nodes := benchNodes(b, "forward")
	var writes, elections []time.Duration
	b.ResetTimer()
	for kill := range b.N {
		leader := streamLeader(nodes, -1)
		if leader < 0 {
			b.Fatal("no node leads the log stream within 2 minutes")
		}
		elected := make(chan time.Duration, 1)
		start := time.Now()
		go func() {
			// A survivor says it leads once its server won the election.
			streamLeader(nodes, leader)
			elected <- time.Since(start) // 2 minutes: none

		}()
		write := firstWriteAfter(b, nodes, leader, start, fmt.Sprint("k", kill))
		writes = append(writes, write)
		elections = append(elections, <-elected)
		b.StopTimer()
		b.Logf("kill %d: node %d; a survivor leads after %s, first write after %s", kill, leader+1,
			elections[kill].Round(time.Millisecond), write.Round(time.Millisecond))
		ready := make(chan error, 1)
		nodes[leader].start(b, ready)
		waitReady(b, ready, 1)
		for i := 0; ; i++ { // the restarted node takes writes again
			path := fmt.Sprintf("/dav/home/writer/cal/k%d-back-%d.ics", kill, i)
			if code, _ := clusterPut(nodes[leader].url.Load().(string), path, path); code == http.StatusCreated {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.StartTimer()
	}
	b.StopTimer()
	reportQuantiles(b, "write", writes)
	reportQuantiles(b, "elect", elections)
}

// streamLeader returns the node whose server leads the log stream, other
// than not (-1: any), waiting for one for at most two minutes; -1 if none
// does.
func streamLeader(nodes []*clusterChild, not int) int {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for i, c := range nodes {
			if i != not && metric(c.url.Load().(string), "almanac_cluster_stream_leader") == "1" {
				return i
			}
		}
	}
	return -1
}

// firstWriteAfter kills node leader with SIGKILL at start and returns how
// long until a PUT through a survivor (the next node) is answered 201,
// PUTs sent one after another.
func firstWriteAfter(b *testing.B, nodes []*clusterChild, leader int, start time.Time, tag string) time.Duration {
	survivor := nodes[(leader+1)%len(nodes)].url.Load().(string)
	nodes[leader].cmd.Process.Kill()
	nodes[leader].cmd.Wait()
	for i := 0; ; i++ {
		path := fmt.Sprintf("/dav/home/writer/cal/%s-%d.ics", tag, i)
		if code, _ := clusterPut(survivor, path, path); code == http.StatusCreated {
			return time.Since(start)
		}
		if time.Since(start) > 2*time.Minute {
			b.Fatal("no write through a survivor within 2 minutes of the kill")
		}
	}
}

// reportQuantiles reports the minimum, median, 90th percentile and
// maximum of ds, in milliseconds, named after what.
func reportQuantiles(b *testing.B, what string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(ds[0]), what+"-min-ms")
	b.ReportMetric(ms(ds[len(ds)/2]), what+"-p50-ms")
	b.ReportMetric(ms(ds[(len(ds)*9+9)/10-1]), what+"-p90-ms")
	b.ReportMetric(ms(ds[len(ds)-1]), what+"-max-ms")
}

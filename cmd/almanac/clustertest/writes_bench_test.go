package clustertest

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkClusterWrites: 32 clients PUT b.N small events over HTTP,
// spread over the nodes, through real `almanac serve` processes:
//
//   - single: one node, no cluster (its own Pebble log);
//   - cas: three nodes, --cluster-writes=cas (each appends its own
//     writes with compare-and-set);
//   - forward: three nodes, --cluster-writes=forward (the default: two
//     forward their writes to the node leading the log stream).
//
// It reports PUTs/s, the p50 and p99 of a PUT, the PUTs not answered 201
// (there should be none), and, for the clusters, after the timed part,
// how long after the node leading the log stream is killed (SIGKILL) a
// PUT through a survivor succeeds. The nodes and the clients share the
// machine: compare the modes' ratios, not capacity.
//
//	go test -run '^$' -bench BenchmarkClusterWrites -benchtime 2000x ./cmd/almanac/clustertest
func BenchmarkClusterWrites(b *testing.B) {
	for _, mode := range []string{"single", "cas", "forward"} {
		b.Run(mode, func(b *testing.B) {
			nodes := benchNodes(b, mode)
			urls := make([]string, len(nodes))
			for i, c := range nodes {
				urls[i] = c.url.Load().(string)
			}
			const writers = 32
			var (
				mu     sync.Mutex
				next   int
				failed int
				lats   = make([]time.Duration, 0, b.N)
				wg     sync.WaitGroup
			)
			b.ResetTimer()
			for w := range writers {
				wg.Go(func() {
					for {
						mu.Lock()
						i := next
						next++
						mu.Unlock()
						if i >= b.N {
							return
						}
						path := fmt.Sprintf("/dav/home/writer/cal/b%d.ics", i)
						start := time.Now()
						code, _ := clusterPut(urls[(w+i)%len(urls)], path, path)
						lat := time.Since(start)
						mu.Lock()
						if code == http.StatusCreated {
							lats = append(lats, lat)
						} else {
							failed++
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
			slices.Sort(lats)
			if len(lats) > 0 {
				b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
			}
			b.ReportMetric(float64(failed), "failed")
			if len(nodes) > 1 {
				b.ReportMetric(float64(firstWriteAfterKill(b, nodes).Milliseconds()), "ms-to-write-after-kill")
			}
		})
	}
}

// benchNodes starts the nodes of mode (BenchmarkClusterWrites) and makes
// the writer's calendar.
func benchNodes(b *testing.B, mode string) []*clusterChild {
	b.Helper()
	n := 3
	if mode == "single" {
		n = 1
	}
	routes := freeAddrs(b, n)
	nodes := make([]*clusterChild, n)
	for i := range nodes {
		dir := b.TempDir()
		args := []string{"serve", "--listen=127.0.0.1:0", "--data=" + dir, "--nats=off", "--grpc-listen=off"}
		if n > 1 {
			var others []string
			for j, r := range routes {
				if j != i {
					others = append(others, r)
				}
			}
			args = append(args, "--node-name="+fmt.Sprint("n", i+1), "--cluster-listen="+routes[i],
				"--routes="+strings.Join(others, ","), "--cluster-writes="+mode)
		}
		nodes[i] = &clusterChild{dir: dir, args: args}
	}
	startAll(b, nodes)
	b.Cleanup(func() {
		for _, c := range nodes {
			if c.cmd.ProcessState == nil {
				c.cmd.Process.Kill()
				c.cmd.Wait()
			}
		}
	})
	req, _ := http.NewRequest("MKCALENDAR", nodes[0].url.Load().(string)+"/dav/home/writer/cal/", nil)
	req.SetBasicAuth(clusterTestUser, clusterTestPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		b.Fatalf("MKCALENDAR: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, c := range nodes { // every node has the calendar
		for code, _, _ := clusterGet(c.url.Load().(string), "/dav/home/writer/cal/"); code != http.StatusOK; code, _, _ = clusterGet(c.url.Load().(string), "/dav/home/writer/cal/") {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nodes
}

// firstWriteAfterKill kills the node leading the log stream with SIGKILL
// and returns how long until a PUT through a survivor is answered 201.
func firstWriteAfterKill(b *testing.B, nodes []*clusterChild) time.Duration {
	b.Helper()
	leader := streamLeader(nodes, -1)
	if leader < 0 {
		b.Fatal("no node says it leads the log stream")
	}
	return firstWriteAfter(b, nodes, leader, time.Now(), "after-kill")
}

// metric reads one unlabelled metric from a node, "" if it cannot.
func metric(url, name string) string {
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Get(url + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	return ""
}

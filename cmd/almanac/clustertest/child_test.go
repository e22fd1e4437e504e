package clustertest

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"golang.org/x/crypto/bcrypt"
)

// clusterChild is one `almanac serve` node of a cluster, a child process.
type clusterChild struct {
	args   []string
	dir    string
	cmd    *exec.Cmd
	url    atomic.Value  // string: the banner's URL, without the final slash
	stderr string        // the file the node's standard error goes to, across restarts
	cpu    time.Duration // user and system CPU of the node's ended processes
}

// wait waits for the node's process to end and adds its CPU to c.cpu.
func (c *clusterChild) wait() error {
	err := c.cmd.Wait()
	if st := c.cmd.ProcessState; st != nil {
		c.cpu += st.UserTime() + st.SystemTime()
	}
	return err
}

// clusterTestPassword is the password of the admin (ALMANAC_ADMIN_PASSWORD
// of the first start) and of clusterTestUser on every node.
const clusterTestPassword = "cluster-secret"

// clusterTestUser is the user the tests' clients write and read as: a
// user of the --htpasswd file start gives every node, whose bcrypt hash
// has the least cost. The admin's has cost 10, which in a node built
// with the race detector takes about 1 CPU-s to verify (17 s under the
// load of 2 cores shared by six engineers): each node verified it again
// after every restart and every 2 minutes (the login cache), and that was
// a good part of the test's CPU and its clients' 15 s timeouts.
const clusterTestUser = "writer"

// htpasswdDir holds clusterTestHtpasswd's file; TestMain removes it.
var htpasswdDir string

// clusterTestHtpasswd returns an htpasswd file holding clusterTestUser,
// made once for all the nodes.
var clusterTestHtpasswd = sync.OnceValues(func() (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(clusterTestPassword), bcrypt.MinCost)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "almanac-clustertest-")
	if err != nil {
		return "", err
	}
	htpasswdDir = dir
	path := filepath.Join(dir, "htpasswd")
	return path, os.WriteFile(path, []byte(clusterTestUser+":"+string(hash)+"\n"), 0o600)
})

// start runs the node and waits (in the background) for its banner on
// ready.
func (c *clusterChild) start(t testing.TB, ready chan<- error) {
	htpasswd, err := clusterTestHtpasswd()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command(almanacBinary(t), append(c.args, "--htpasswd="+htpasswd)...)
	// GOTRACEBACK=all: the SIGQUIT of diagnoseCluster dumps every
	// goroutine of a node that stalled.
	c.cmd.Env = append(os.Environ(), "ALMANAC_ADMIN_PASSWORD="+clusterTestPassword, "GOTRACEBACK=all")
	if c.stderr == "" { // kept across restarts, for the diagnosis
		c.stderr = filepath.Join(t.TempDir(), "stderr")
	}
	errFile, err := os.OpenFile(c.stderr, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close() // the child has its own descriptor once started
	c.cmd.Stderr = errFile
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		banner := regexp.MustCompile(`^Almanac is serving .* at (\S+)/$`)
		found := false
		for sc.Scan() {
			if m := banner.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				c.url.Store(m[1])
				ready <- nil
			}
		}
		if !found {
			ready <- fmt.Errorf("%s exited without a banner:\n%s", c.dir, c.logs())
		}
	}()
}

// logs returns what the node wrote to its standard error so far, over
// all its starts.
func (c *clusterChild) logs() string {
	b, err := os.ReadFile(c.stderr)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// startAll starts the nodes at once (a replicated log needs its peers)
// and waits for every banner.
func startAll(t testing.TB, nodes []*clusterChild) {
	t.Helper()
	ready := make(chan error, len(nodes))
	for _, c := range nodes {
		c.start(t, ready)
	}
	waitReady(t, ready, len(nodes))
}

func waitReady(t testing.TB, ready <-chan error, n int) {
	t.Helper()
	timeout := time.After(3 * time.Minute)
	for range n {
		select {
		case err := <-ready:
			if err != nil {
				t.Fatal(err)
			}
		case <-timeout:
			t.Fatal("a node did not start within 3 minutes")
		}
	}
}

// clusterPut PUTs a small event as clusterTestUser; the status, the ETag.
func clusterPut(url, path, uid string) (int, string) {
	body := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	req, err := http.NewRequest(http.MethodPut, url+path, strings.NewReader(body))
	if err != nil {
		return 0, ""
	}
	req.SetBasicAuth(clusterTestUser, clusterTestPassword)
	req.Header.Set("Content-Type", "text/calendar")
	// No shorter timeout than the server's own bounds (a write gives up
	// with 503 within a few times 10 s): a client that left would leave
	// its write running on the server, to be appended after the test
	// stopped writing and compared the nodes.
	resp, err := (&http.Client{Timeout: 3 * time.Minute}).Do(req)
	if err != nil {
		return 0, ""
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("ETag")
}

// clusterGet returns the status and ETag of path on a node, or the
// client's error (a status of 0).
func clusterGet(url, path string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.SetBasicAuth(clusterTestUser, clusterTestPassword)
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("ETag"), nil
}

// probe returns a node's answer at url in one line: its status and
// body, or the client's error.
func probe(url string) string {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
}

// metricLines returns the lines of a node's metrics that begin with one
// of prefixes, or the client's error.
func metricLines(url string, prefixes ...string) []string {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url + "/metrics")
	if err != nil {
		return []string{err.Error()}
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		for _, p := range prefixes {
			if strings.HasPrefix(sc.Text(), p) && !strings.Contains(sc.Text(), "_bucket{") {
				lines = append(lines, sc.Text())
				break
			}
		}
	}
	return lines
}

// goroutinesOf returns the stacks of a running node's goroutines, read
// from its --debug-listen (the last address it logged), or why it
// cannot.
func goroutinesOf(c *clusterChild) string {
	m := regexp.MustCompile(`msg="profiler listening" url=(\S+)`).FindAllStringSubmatch(c.logs(), -1)
	if m == nil {
		return "no --debug-listen logged"
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(m[len(m)-1][1] + "goroutine?debug=2")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// nodesCPU returns the CPU-s the nodes used: their ended processes' and
// what the running ones report (process_cpu_seconds_total).
func nodesCPU(nodes []*clusterChild) float64 {
	var sum float64
	for _, c := range nodes {
		sum += c.cpu.Seconds()
		if c.cmd.ProcessState == nil {
			v, _ := strconv.ParseFloat(metric(c.url.Load().(string), "process_cpu_seconds_total"), 64)
			sum += v
		}
	}
	return sum
}

// handlersWaiting summarizes a goroutine dump's HTTP requests under way:
// how many wait in each function of this module (the innermost on their
// stack), and the stack of one request of the most common, or the dump
// itself when it has no request.
func handlersWaiting(dump string) string {
	counts := map[string]int{}
	example := map[string]string{}
	for _, g := range strings.Split(dump, "\n\n") {
		if !strings.Contains(g, "net/http.(*conn).serve") {
			continue
		}
		where := "outside this module"
		for _, l := range strings.Split(g, "\n") {
			if strings.HasPrefix(l, "github.com/almanac/almanac/") {
				where = l[:strings.LastIndex(l, "(")] // the function, without its arguments
				break
			}
		}
		counts[where]++
		example[where] = g
	}
	if len(counts) == 0 {
		return "no request under way\n" + dump
	}
	var out []string
	most := ""
	for where, n := range counts {
		out = append(out, fmt.Sprintf("%d in %s", n, where))
		if counts[where] > counts[most] {
			most = where
		}
	}
	return strings.Join(out, ", ") + "; one of them:\n" + example[most]
}

// headOf reads almanac_engine_head_seq from a node's metrics, "" if it
// cannot.
func headOf(url string) string {
	return metric(url, "almanac_engine_head_seq")
}

// diagnoseCluster stops the nodes and logs what tells why a write is
// missing or a node does not answer: what each running node says of
// itself (/healthz, /readyz, its cluster metrics), the goroutines that
// waited a minute or more on each (all of stalled's, the index of the
// node that did not answer, -1 for none), each node's head, where path
// is in each node's log, the first sequence number at which the nodes'
// logs differ, and the warnings and errors each node logged.
func diagnoseCluster(t *testing.T, nodes []*clusterChild, path string, stalled int) {
	t.Helper()
	for i, c := range nodes {
		if c.cmd.ProcessState == nil {
			url := c.url.Load().(string)
			t.Logf("node %d: /healthz %s; /readyz %s; metrics: %s", i+1, probe(url+"/healthz"), probe(url+"/readyz"),
				strings.Join(metricLines(url, "almanac_engine_head_seq", "almanac_cluster_", "go_goroutines"), "; "))
		}
	}
	// SIGQUIT: the Go runtime writes every goroutine's stack to the
	// node's standard error (GOTRACEBACK=all) and exits, as a kill
	// does; the databases are opened below all the same.
	for _, c := range nodes {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Signal(syscall.SIGQUIT)
			c.wait()
		}
	}
	for i, c := range nodes {
		_, dump, ok := strings.Cut(c.logs(), "SIGQUIT: quit")
		if !ok {
			continue
		}
		if i == stalled {
			t.Logf("node %d (did not answer) was doing:\n%s", i+1, dump)
			continue
		}
		var long []string
		for _, g := range strings.Split(dump, "\n\n") {
			if strings.Contains(g, " minutes]:") {
				long = append(long, g)
			}
		}
		t.Logf("node %d: %d goroutines waiting a minute or more:\n%s", i+1, len(long), strings.Join(long, "\n\n"))
	}
	logs := make([][]string, len(nodes))
	for i, c := range nodes {
		db, err := engine.Open(filepath.Join(c.dir, "db"), nil)
		if err != nil {
			t.Logf("node %d: open: %v", i+1, err)
			continue
		}
		v, err := db.View()
		if err != nil {
			db.Close()
			t.Logf("node %d: view: %v", i+1, err)
			continue
		}
		for ev, err := range v.Log(1) {
			if err != nil {
				t.Logf("node %d: log: %v", i+1, err)
				break
			}
			rec := fmt.Sprintf("%d %v %s%s %s %s %s %x", ev.Seq, ev.Op, ev.CollectionPath, ev.Object, ev.ETag, ev.RequestID, ev.Time.Format(time.RFC3339Nano), sha256.Sum256(ev.Body))
			logs[i] = append(logs[i], rec)
			if path != "" && strings.HasSuffix(path, ev.Object) && ev.Object != "" {
				t.Logf("node %d has %s", i+1, rec)
			}
		}
		v.Close()
		db.Close()
		t.Logf("node %d: head %d, last events:\n%s", i+1, len(logs[i]), strings.Join(logs[i][max(0, len(logs[i])-3):], "\n"))
	}
	for i := 1; i < len(nodes); i++ {
		for s := range min(len(logs[0]), len(logs[i])) {
			if logs[0][s] != logs[i][s] {
				t.Logf("node 1 and node %d differ first at %d: %q, %q", i+1, s+1, logs[0][s], logs[i][s])
				break
			}
		}
	}
	for i, c := range nodes {
		var lines []string
		for _, l := range strings.Split(c.logs(), "\n") {
			if strings.Contains(l, "WARN") || strings.Contains(l, "ERROR") || strings.Contains(l, "level=") && !strings.Contains(l, "INFO") {
				lines = append(lines, l)
			}
		}
		t.Logf("node %d logged %d warnings and errors; the last:\n%s", i+1, len(lines), strings.Join(lines[max(0, len(lines)-30):], "\n"))
	}
}

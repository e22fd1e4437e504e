package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDiskFullHTTP runs a server on a real 64 MiB tmpfs and fills it from
// outside: a PUT gets 507 with DAV:sufficient-disk-space (RFC 4331 §6) at
// once, GETs keep working, and after the space is freed PUTs succeed
// without a restart; Verify passes. The server runs with the default
// --disk-reserve (64 MiB, which would not fit here beside
// --min-free-space): the reserve is sized to the small store, a few MiB.
// (engine.TestDiskFull and TestReserveSizedToStore cover the same, and
// the reserve's release, on an error-injecting filesystem, which runs
// everywhere.)
func TestDiskFullHTTP(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root; engine.TestDiskFull covers disk full without it")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=64m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); engine.TestDiskFull covers disk full without it", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, 0) }) // after the server's own cleanup
	const minFree = 8 << 20
	srv := startServer(t, "--data="+filepath.Join(mnt, "data"), "--min-free-space=8388608")
	obj := "/dav/home/alice/calendar/a.ics"
	cliPut(t, srv, "alice", obj, cliEvent("a", "before"))
	reserve := filepath.Join(mnt, "data", "db", "almanac-reserve")
	if fi, err := os.Stat(reserve); err != nil || fi.Size() < 1<<20 || fi.Size() > 8<<20 {
		t.Fatalf("the reserve of a one-object store: %v, %v; want a file of 1-8 MiB", fi, err)
	}

	// Another process fills the disk to below --min-free-space.
	var st unix.Statfs_t
	if err := unix.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	fill := int64(st.Bavail)*st.Bsize - minFree/2
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, fill); err != nil {
		t.Fatalf("fill the disk: %v", err)
	}
	f.Close()

	// The server trusts a statfs for up to 100 ms: a put or two may still
	// land (and must be kept); then 507, at once: before the write reaches
	// the log (its head does not move; a count, where this test timed the
	// refusal before).
	acked := []string{obj}
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		p := "/dav/home/alice/calendar/b" + strconv.Itoa(i) + ".ics"
		head := srv.DB.Head()
		resp, body := srv.Do(t, http.MethodPut, p, "alice", cliEvent("b"+strconv.Itoa(i), "full"), "Content-Type", "text/calendar")
		if resp.StatusCode == http.StatusCreated && time.Now().Before(deadline) {
			acked = append(acked, p)
			continue
		}
		if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(body, "sufficient-disk-space") {
			t.Fatalf("PUT on a full disk: %s %s", resp.Status, body)
		}
		if got := srv.DB.Head(); got != head {
			t.Errorf("the refused PUT moved the log's head from %d to %d", head, got)
		}
		break
	}
	if resp, body := srv.Do(t, http.MethodGet, obj, "alice", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, "before") {
		t.Fatalf("GET on a full disk: %s %s", resp.Status, body)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		resp, body := srv.Do(t, http.MethodPut, "/dav/home/alice/calendar/b.ics", "alice", cliEvent("b", "after"), "Content-Type", "text/calendar")
		if resp.StatusCode == http.StatusCreated {
			break
		}
		if resp.StatusCode != http.StatusInsufficientStorage || time.Now().After(deadline) {
			t.Fatalf("PUT after space returned: %s %s", resp.Status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range acked {
		if resp, body := srv.Do(t, http.MethodGet, p, "alice", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s, acknowledged before: %s %s", p, resp.Status, body)
		}
	}
	if err := srv.DB.Verify(t.Context()); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := os.Stat(reserve); err != nil {
		t.Errorf("the reserve after the disk-full episode: %v", err)
	}
}

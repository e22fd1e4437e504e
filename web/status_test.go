package web

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// statusCells returns the status page's cells with an id, by id.
func statusCells(t *testing.T, b *browser) map[string]string {
	t.Helper()
	code, body := b.get("/manage/status")
	if code != 200 {
		t.Fatalf("GET /manage/status: %d %s", code, body)
	}
	cells := map[string]string{}
	for _, m := range regexp.MustCompile(`(?s)<td id="(\w+)">(.*?)</td>`).FindAllStringSubmatch(body, -1) {
		cells[m[1]] = m[2]
	}
	for _, id := range []string{"backup", "feed", "nats", "cluster"} {
		if _, ok := cells[id]; !ok {
			t.Fatalf("the status page has no %s cell:\n%s", id, body)
		}
	}
	return cells
}

// TestStatusNone: without a backup, a feed or a cluster the status page
// says never, off, off and single node.
func TestStatusNone(t *testing.T) {
	for name, rt := range map[string]func() Runtime{"no Runtime": nil, "all off": func() Runtime { return Runtime{} }} {
		t.Run(name, func(t *testing.T) {
			a := mustApp(t, Options{Runtime: rt})
			root := a.browser(t)
			root.signIn("root")
			c := statusCells(t, root)
			for id, want := range map[string]string{"backup": "never (since the server started)", "feed": "off", "nats": "off", "cluster": "single node"} {
				if c[id] != want {
					t.Errorf("%s: %q, want %q", id, c[id], want)
				}
			}
		})
	}
}

// TestStatusSome: the status page shows the last backup (time, head,
// size), the feed's subscribers, the NATS publisher's lag and the
// cluster's state as Runtime reports them at each view, the lease
// holder's name escaped.
func TestStatusSome(t *testing.T) {
	rt := Runtime{GRPCFeed: true, FeedSubscribers: 3, NATS: true, NATSLag: 17, Cluster: true, LeaseHolder: "<node-b>"}
	a := mustApp(t, Options{Runtime: func() Runtime { return rt }})
	if _, err := a.db.Backup(context.Background(), "bk"); err != nil {
		t.Fatal(err)
	}
	root := a.browser(t)
	root.signIn("root")
	c := statusCells(t, root)
	lb := a.db.LastBackup()
	wantBackup := lb.Time.UTC().Format("2006-01-02 15:04:05 UTC") + ": " + fmt.Sprint(lb.Head) + " events, " + humanBytes(lb.Bytes)
	if lb.Bytes <= 0 || c["backup"] != wantBackup {
		t.Errorf("backup: %q, want %q", c["backup"], wantBackup)
	}
	if c["feed"] != "3" || c["nats"] != "17 events behind" {
		t.Errorf("feed %q, nats %q: want 3 and 17 events behind", c["feed"], c["nats"])
	}
	head := fmt.Sprint(a.db.Head())
	if want := "applied " + head + " of the log's 0 (0 behind); publishers run on &lt;node-b&gt;"; c["cluster"] != want {
		t.Errorf("cluster: %q, want %q", c["cluster"], want)
	}
	rt.FeedSubscribers, rt.LeaseHolder = 0, ""
	c = statusCells(t, root)
	if c["feed"] != "0" || !strings.HasSuffix(c["cluster"], "publishers run on (not known yet)") {
		t.Errorf("at the next view: feed %q, cluster %q", c["feed"], c["cluster"])
	}
}

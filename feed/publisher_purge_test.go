package feed

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/google/go-cmp/cmp"
)

// grepDir reports whether any file under dir contains s.
func grepDir(tb testing.TB, dir string, s []byte) bool {
	tb.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || found {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found = bytes.Contains(b, s)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return found
}

// TestPublisherPurgeErasesStream: almanac purge of an object erases the
// bodies of its versions from the log; the publisher erases the messages
// of those versions from the stream too (secure delete), so the body is no
// longer readable from the stream and its bytes are gone from DATA/nats.
// Other objects' messages stay, and the purge's own change is published.
func TestPublisherPurgeErasesStream(t *testing.T) {
	dir := t.TempDir()
	db := MustOpenDB(t)
	ns := MustNATS(t, filepath.Join(dir, "nats"), "")
	nc := MustConnect(t, ns)
	p, _ := runPublisher(t, PublisherOptions{DB: db, Conn: nc, IncludeBody: true})
	secret := []byte("GDPR-ERASE-ME-7f3a9c")
	m := engine.Meta{Actor: "alice"}
	cal := home("alice") + "calendar/"
	for i := range 3 {
		body := bytes.Replace(ical("x", 0), []byte("SUMMARY:x"), append([]byte("SUMMARY:"), append(secret, byte('0'+i))...), 1)
		if _, err := db.PutObject(bg, m, cal, "x.ics", body, engine.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	MustPut(t, db, "alice", "keep.ics")
	waitFor(t, 30*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
	waitFor(t, 30*time.Second, "the body in the NATS store", func() bool { return grepDir(t, filepath.Join(dir, "nats"), secret) })

	res, err := db.PurgeContent(bg, engine.Meta{Actor: "admin", Reason: "gdpr"}, cal, "x.ics")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Erased) != 3 {
		t.Fatalf("purge erased %v, want the 3 versions", res.Erased)
	}
	waitFor(t, 30*time.Second, "the cursor to reach the head", func() bool { return p.Cursor() == db.Head() })
	var got []*feedv1.Change
	for _, msg := range streamMsgs(t, nc, "ALMANAC") {
		if bytes.Contains(msg.Data, secret) {
			t.Errorf("stream message %d still holds the purged body", msg.Sequence)
		}
		got = append(got, decodeMsg(t, msg, decodeProto))
	}
	erased := map[uint64]bool{}
	for _, s := range res.Erased {
		erased[uint64(s)] = true
	}
	want := expected(t, db, func(ev *engine.Event, _ string) bool { return !erased[uint64(ev.Seq)] })
	if diff := cmp.Diff(want, seqs(got)); diff != "" {
		t.Errorf("stream after the purge (-want +got):\n%s", diff)
	}
	last := got[len(got)-1]
	if last.Op != feedv1.Op_OP_CONTENT_PURGED || last.Seq != uint64(res.Seq) {
		t.Errorf("last change %v, want the purge %d", last, res.Seq)
	}
	for _, c := range got {
		if c.Object == "keep.ics" && c.Op == feedv1.Op_OP_OBJECT_PUT && len(c.Body) == 0 {
			t.Errorf("keep.ics lost its body")
		}
	}
	waitFor(t, 30*time.Second, "the purged body's bytes to leave DATA/nats", func() bool {
		return !grepDir(t, filepath.Join(dir, "nats"), secret)
	})
}

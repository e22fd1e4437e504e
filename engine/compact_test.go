package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestCompactLog(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	put := func(name, uid string) {
		t.Helper()
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", name, event(uid), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("a.ics", "a")
	v1, _ := db.Object("/alice/cal/", "a.ics", false)
	put("a.ics", "a") // supersedes v1
	put("b.ics", "b")
	put("c.ics", "c")
	old, _ := db.Changes("/alice/cal/", "", 0) // a token before the deletion
	if err := db.DeleteObject(ctx, alice, "/alice/cal/", "b.ics", ""); err != nil {
		t.Fatal(err)
	}
	v, _ := db.View()
	cut, _ := v.Event(v.Head())
	v.Close()
	mid, _ := db.Changes("/alice/cal/", "", 0) // a token after the deletion
	if err := db.DeleteObject(ctx, alice, "/alice/cal/", "c.ics", ""); err != nil {
		t.Fatal(err)
	}
	res, err := db.CompactLog(ctx, oper, cut.Time.Add(1))
	if err != nil {
		t.Fatal(err)
	}
	// v1 of a.ics and the last version of b.ics lose their bodies.
	if res.Horizon != cut.Seq || res.Erased != 2 {
		t.Fatalf("compact: %+v, want horizon %d and 2 erased", res, cut.Seq)
	}
	t.Run("ErrTokenExpired", func(t *testing.T) {
		if _, err := db.Changes("/alice/cal/", old.Token, 0); !errors.Is(err, ErrTokenExpired) {
			t.Fatalf("token older than the dropped tombstone: %v", err)
		}
	})
	t.Run("NewerTokenWorks", func(t *testing.T) {
		cs, err := db.Changes("/alice/cal/", mid.Token, 0)
		if err != nil || len(cs.Changes) != 1 || cs.Changes[0].Name != "c.ics" || !cs.Changes[0].Deleted {
			t.Fatalf("token after the horizon: %+v %v", cs, err)
		}
	})
	t.Run("ErasedVersion", func(t *testing.T) {
		v, _ := db.View()
		defer v.Close()
		if _, err := v.Version(v1.Seq); !errors.Is(err, ErrCompacted) {
			t.Fatalf("version of a superseded body: %v", err)
		}
		e, _ := v.Event(v1.Seq)
		if !e.BodyErased || e.Actor != "alice" || e.ETag != v1.ETag {
			t.Fatalf("compacted record lost its metadata: %+v", e)
		}
		if o, err := db.Object("/alice/cal/", "a.ics", true); err != nil || len(o.Body) == 0 {
			t.Fatalf("live object after compact: %v %v", o, err)
		}
	})
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Changes("/alice/cal/", old.Token, 0); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("after rebuild, old token: %v", err)
	}
}

const marker = "SECRET-MARKER-7f3a9c"

func TestPurgeLeavesNoTrace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := Open(dir, &Options{Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	MustCalendar(t, db)
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/other/", Kind: KindCalendar, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	secret := bytes.Replace(event("s"), []byte("Meeting s"), []byte(marker), 1)
	db.PutObject(ctx, alice, "/alice/cal/", "s.ics", secret, PutOptions{})
	db.PutObject(ctx, alice, "/alice/cal/", "s.ics", append(bytes.Clone(secret[:len(secret)-15]), []byte("END:VCALENDAR\r\n")...), PutOptions{})
	db.PutObject(ctx, alice, "/alice/cal/", "s.ics", secret, PutOptions{})
	// The content moves to another calendar: the purge follows it.
	if _, err := db.MoveObject(ctx, alice, MoveRequest{FromPath: "/alice/cal/", FromName: "s.ics", ToPath: "/alice/other/", ToName: "s2.ics"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		db.PutObject(ctx, alice, "/alice/cal/", fmt.Sprintf("k%d.ics", i), event(fmt.Sprintf("k%d", i)), PutOptions{})
	}
	// Push some of it into sstables before the purge, as a real server would.
	if err := db.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	if !containsMarker(t, dir) {
		t.Fatal("test setup: the marker is not in the files before the purge")
	}
	res, err := db.PurgeContent(ctx, oper, "/alice/cal/", "s.ics")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Erased) != 4 || len(res.Deleted) != 1 || res.Deleted[0] != "/alice/other/s2.ics" {
		t.Fatalf("purge: %+v", res)
	}
	if _, err := db.Object("/alice/other/", "s2.ics", false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("moved copy still live: %v", err)
	}
	v, _ := db.View()
	e, _ := v.Event(res.Seq)
	h, _ := v.History("/alice/cal/", "s.ics")
	v.Close()
	if e.Op != OpContentPurged || len(e.PurgedSeqs) != 4 || e.Actor != "operator:root" || len(e.Body) != 0 {
		t.Fatalf("purge event: %+v", e)
	}
	if last := h[len(h)-1]; last.Op != OpContentPurged {
		t.Fatalf("object history does not end with the purge: %v", last.Op)
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if containsMarker(t, dir) {
		t.Fatal("the purged content is still in the database files")
	}
}

// containsMarker searches every file under dir for marker.
func containsMarker(t *testing.T, dir string) bool {
	t.Helper()
	// Pebble removes obsolete files (a WAL after its flush, tables after a
	// compaction) and may recycle a WAL under a new name while the walk
	// runs: a file that vanished between the listing and its reading may
	// live on under a name the listing did not hold, so the walk starts
	// again until it reads every file it listed.
	for attempt := 0; attempt < 100; attempt++ {
		found, vanished := false, false
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if errors.Is(err, fs.ErrNotExist) {
				vanished = true
				return filepath.SkipAll
			}
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte(marker)) {
				t.Logf("marker in %s", filepath.Base(p))
				found = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !vanished {
			return found
		}
	}
	t.Fatalf("files of %s kept vanishing while read: 100 walks", dir)
	return false
}

package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestOpaqueETagsAndTokens: ETags, sync tokens and CTags show no log
// position (they would tell every user how many writes everyone made),
// stay unique, survive a reopen, and a sync token still works.
func TestOpaqueETagsAndTokens(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	MustCalendar(t, db)
	seen := map[string]bool{}
	var puts []*PutResult
	for i := range 50 {
		r, err := db.PutObject(ctx, alice, "/alice/cal/", fmt.Sprintf("e%d.ics", i), event(fmt.Sprint(i)), PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		puts = append(puts, r)
		// 32 hex digits that only the store's key turns back into the seq.
		if seq, zero, ok := db.etags.open(strings.Trim(r.ETag, `"`)); !ok || seq != uint64(r.Seq) || zero != 0 {
			t.Errorf("ETag %s of seq %d", r.ETag, r.Seq)
		}
		if seen[r.ETag] {
			t.Fatalf("ETag %s twice", r.ETag)
		}
		seen[r.ETag] = true
	}
	// Ordered by seq, the ETags are not ordered: they do not count.
	if slices.IsSortedFunc(puts, func(a, b *PutResult) int { return strings.Compare(a.ETag, b.ETag) }) {
		t.Error("ETags grow with the seq")
	}
	c, err := db.Collection("/alice/cal/")
	if err != nil {
		t.Fatal(err)
	}
	tail, ok := strings.CutPrefix(c.SyncToken, SyncTokenPrefix+db.StoreID()+"/")
	if id, seq, sealed := db.tokens.open(tail); !ok || !sealed || id != c.ID || seq != uint64(c.LastSeq) {
		t.Errorf("sync token %s: want the sealed id %d and seq %d", c.SyncToken, c.ID, c.LastSeq)
	}
	if c.CTag != c.SyncToken {
		t.Errorf("CTag %s", c.CTag)
	}
	old := c.SyncToken
	clear := SyncTokenPrefix + db.StoreID() + "/" + strconv.FormatUint(c.ID, 10) + "/" + strconv.FormatUint(uint64(puts[9].Seq), 10)
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "late.ics", event("late"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open("db", &Options{FS: fs, Clock: fakeClock()}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cs, err := db.Changes("/alice/cal/", old, 0)
	if err != nil || len(cs.Changes) != 1 || cs.Changes[0].Name != "late.ics" {
		t.Fatalf("changes since the token before the reopen: %+v %v", cs, err)
	}
	// A token in the older clear form still works.
	cs, err = db.Changes("/alice/cal/", clear, 0)
	if err != nil || len(cs.Changes) != 41 {
		t.Fatalf("changes since a clear token: %d %v, want 41", len(cs.Changes), err)
	}
	if got := db.etag(puts[0].Seq); got != puts[0].ETag {
		t.Errorf("ETag after reopen %s, want %s", got, puts[0].ETag)
	}
}

func FuzzSyncToken(f *testing.F) {
	db := MustOpen(f)
	c := MustCalendar(f, db)
	f.Add(c.SyncToken)
	f.Add(SyncTokenPrefix + db.StoreID() + "/1/2")
	f.Add(SyncTokenPrefix + db.StoreID() + "/" + strings.Repeat("f", 32))
	f.Fuzz(func(t *testing.T, tok string) {
		cs, err := db.Changes("/alice/cal/", tok, 0)
		if err == nil && tok != "" && tok != c.SyncToken && !strings.HasSuffix(tok, "/"+strconv.FormatUint(c.ID, 10)+"/"+strconv.FormatUint(uint64(c.LastSeq), 10)) && len(cs.Changes) != 0 {
			t.Errorf("token %q accepted with changes", tok)
		}
	})
}

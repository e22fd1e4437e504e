package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// lastHistSeq is the sequence number of the last event in the history of path.
func lastHistSeq(tb testing.TB, db *DB, path string) Seq {
	tb.Helper()
	evs := collHistory(tb, db, path)
	if len(evs) == 0 {
		tb.Fatalf("no history of %s", path)
	}
	return evs[len(evs)-1].Seq
}

// TestRestoreRollsBackGrants: alice grants her calendar to bob (t1),
// revokes it (t2) and grants it to carol (t3). A restore of her home as
// of t1 (dry run first) revokes carol's grant and makes bob's again as new
// events by the operator: Access and the mounts are those of t1, the
// calendar's history shows the restore's events, a second restore finds
// nothing to do, and Verify passes after a rebuild.
func TestRestoreRollsBackGrants(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	const cal = "/h/alice/cal/"
	must(t, db.Grant(ctx, alice, cal, "bob", AccessReadWrite, GrantOptions{AutoAccept: true}))
	t1 := lastHistSeq(t, db, cal)
	must(t, db.Revoke(ctx, alice, cal, "bob"))
	must(t, db.Grant(ctx, alice, cal, "carol", AccessRead, GrantOptions{AutoAccept: true}))
	if r := access(t, db, "bob", "/h/bob/alice-cal/x.ics"); r.Access != AccessOwner || r.Target != "/h/bob/alice-cal/x.ics" {
		t.Fatalf("before the restore bob resolves the mount path to %v %q", r.Access, r.Target)
	}

	req := RestoreRequest{Path: "/h/alice/", At: AsOf{Seq: t1}, DryRun: true}
	dry, err := db.Restore(ctx, oper, req)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range dry.Actions {
		got = append(got, a.String())
	}
	want := []string{
		"share-revoked " + cal + " from carol",
		fmt.Sprintf("share-granted %s to bob read-write (from seq %d)", cal, t1),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("dry run = %q, want %q", got, want)
	}
	if r := access(t, db, "carol", cal); r.Access != AccessRead {
		t.Fatalf("the dry run changed carol's access: %v", r.Access)
	}

	req.DryRun = false
	res, err := db.Restore(ctx, oper, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) != 2 || res.Actions[0].Seq == 0 || res.Actions[1].Seq == 0 {
		t.Fatalf("restore actions = %+v", res.Actions)
	}
	for _, tc := range []struct {
		user, path string
		want       Access
		target     string
	}{
		{"bob", "/h/bob/alice-cal/x.ics", AccessReadWrite, cal + "x.ics"},
		{"bob", cal, AccessReadWrite, cal},
		{"carol", cal + "x.ics", AccessNone, ""},
		{"carol", "/h/carol/alice-cal/x.ics", AccessOwner, "/h/carol/alice-cal/x.ics"},
	} {
		r := access(t, db, tc.user, tc.path)
		if r.Access != tc.want || r.Target != tc.target {
			t.Errorf("after the restore Access(%s, %s) = %v %q, want %v %q", tc.user, tc.path, r.Access, r.Target, tc.want, tc.target)
		}
	}
	if ms := mounts(t, db, "bob"); len(ms) != 1 || ms[0].Mount != "alice-cal" || ms[0].Reply != ReplyAccepted {
		t.Errorf("bob's mounts after the restore = %+v", ms)
	}
	if ms := mounts(t, db, "carol"); len(ms) != 0 {
		t.Errorf("carol's mounts after the restore = %+v", ms)
	}

	for _, e := range collHistory(t, db, cal) {
		if e.Share != nil && e.Actor == oper.Actor && !strings.HasPrefix(e.Reason, "restore as of") {
			t.Errorf("restore event %d has reason %q", e.Seq, e.Reason)
		}
	}
	ops := shareEvents(t, db, cal)
	wantOps := []string{
		"share-granted alice bob read-write", "share-revoked alice bob none", "share-granted alice carol read",
		"share-revoked operator:root carol none", "share-granted operator:root bob read-write",
	}
	if !slices.Equal(ops, wantOps) {
		t.Errorf("share events of %s = %q, want %q", cal, ops, wantOps)
	}

	again, err := db.Restore(ctx, oper, RestoreRequest{Path: "/h/alice/", At: AsOf{Seq: t1}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Actions) != 0 {
		t.Errorf("a second restore would do %v", again.Actions)
	}
	must(t, db.Rebuild(ctx))
	must(t, db.Verify(ctx))
	if r := access(t, db, "bob", "/h/bob/alice-cal/x.ics"); r.Access != AccessReadWrite {
		t.Errorf("after a rebuild bob has %v", r.Access)
	}
}

// TestRestoreRecreatesGrants: a calendar deleted with its grants comes
// back from a restore with them (to the principals that still exist).
func TestRestoreRecreatesGrants(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	const work = "/h/alice/work/"
	must(t, db.Grant(ctx, alice, work, "bob", AccessRead, GrantOptions{AutoAccept: true}))
	must(t, db.Grant(ctx, alice, work, "carol", AccessReadWrite, GrantOptions{}))
	t1 := lastHistSeq(t, db, work)
	must(t, db.DeleteCollection(ctx, alice, work))
	if r := access(t, db, "bob", work); r.Access != AccessNone {
		t.Fatalf("bob after the deletion: %v", r.Access)
	}
	res, err := db.Restore(ctx, oper, RestoreRequest{Path: work, At: AsOf{Seq: t1}})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, a := range res.Actions {
		ops = append(ops, a.Op.String()+" "+a.Grantee)
	}
	if want := []string{"collection-created ", "share-granted bob", "share-granted carol"}; !slices.Equal(ops, want) {
		t.Errorf("actions = %q, want %q", ops, want)
	}
	if r := access(t, db, "bob", "/h/bob/alice-work/x.ics"); r.Access != AccessRead || r.Target != work+"x.ics" {
		t.Errorf("bob through his mount: %v %q", r.Access, r.Target)
	}
	if r := access(t, db, "carol", work); r.Access != AccessReadWrite {
		t.Errorf("carol on alice's URL: %v", r.Access)
	}
	if ms := mounts(t, db, "carol"); len(ms) != 0 {
		t.Errorf("carol never accepted, yet has mounts %+v", ms)
	}
	must(t, db.Verify(ctx))
}

// changeNames lists the changes of path since token as "name" or
// "-name" (deleted), and the next token.
func changeNames(tb testing.TB, db *DB, path, token string) ([]string, string) {
	tb.Helper()
	cs, err := db.Changes(path, token, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, c := range cs.Changes {
		if c.Deleted {
			out = append(out, "-"+c.Name)
		} else {
			out = append(out, c.Name)
		}
	}
	return out, cs.Token
}

// TestHomeChangesListMounts: the sharee's home sync lists a mount arriving
// as a member "name/", a renamed one as the old name deleted and the new
// one present, and one leaving as deleted, each name once, like objects;
// an initial sync lists only the live mounts; a rebuild derives the same.
func TestHomeChangesListMounts(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	got, t0 := changeNames(t, db, "/h/bob/", "")
	if len(got) != 0 {
		t.Fatalf("bob's empty home lists %q", got)
	}
	must(t, db.Grant(ctx, alice, "/h/alice/cal/", "bob", AccessRead, GrantOptions{AutoAccept: true}))
	must(t, db.Grant(ctx, alice, "/h/alice/work/", "bob", AccessRead, GrantOptions{AutoAccept: true}))
	got, t1 := changeNames(t, db, "/h/bob/", t0)
	if want := []string{"alice-cal/", "alice-work/"}; !slices.Equal(got, want) {
		t.Fatalf("changes after the grants = %q, want %q", got, want)
	}
	must(t, db.Revoke(ctx, alice, "/h/alice/cal/", "bob"))
	got, _ = changeNames(t, db, "/h/bob/", t1)
	if want := []string{"-alice-cal/"}; !slices.Equal(got, want) {
		t.Errorf("changes after the revocation = %q, want %q", got, want)
	}
	got, _ = changeNames(t, db, "/h/bob/", t0)
	if want := []string{"alice-work/", "-alice-cal/"}; !slices.Equal(got, want) {
		t.Errorf("changes since before both = %q, want %q (each name once)", got, want)
	}
	got, _ = changeNames(t, db, "/h/bob/", "")
	if want := []string{"alice-work/"}; !slices.Equal(got, want) {
		t.Errorf("initial sync = %q, want %q", got, want)
	}
	must(t, db.Grant(ctx, alice, "/h/alice/cal/", "bob", AccessRead, GrantOptions{AutoAccept: true}))
	got, _ = changeNames(t, db, "/h/bob/", t1)
	if want := []string{"alice-cal/"}; !slices.Equal(got, want) {
		t.Errorf("changes after the share came back = %q, want %q", got, want)
	}
	_, t2 := changeNames(t, db, "/h/bob/", t1)
	must(t, db.RenameMount(ctx, bob, "bob", "alice-work", "team"))
	got, _ = changeNames(t, db, "/h/bob/", t2)
	if want := []string{"-alice-work/", "team/"}; !slices.Equal(got, want) {
		t.Errorf("changes after the rename = %q, want %q", got, want)
	}
	must(t, db.Rebuild(ctx))
	must(t, db.Verify(ctx))
	got, _ = changeNames(t, db, "/h/bob/", "")
	if want := []string{"alice-cal/", "team/"}; !slices.Equal(got, want) {
		t.Errorf("initial sync after a rebuild = %q, want %q", got, want)
	}
}

// TestCompactKeepsLiveMounts: compacting the log drops the entry of a
// mount that left bob's home (his older tokens expire) but keeps the one
// of a mount still there, so a listing from the change index holds it.
func TestCompactKeepsLiveMounts(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	must(t, db.Grant(ctx, alice, "/h/alice/cal/", "bob", AccessRead, GrantOptions{AutoAccept: true}))
	must(t, db.Grant(ctx, alice, "/h/alice/work/", "bob", AccessRead, GrantOptions{AutoAccept: true}))
	_, old := changeNames(t, db, "/h/bob/", "")
	must(t, db.Revoke(ctx, alice, "/h/alice/cal/", "bob"))
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	cut, err := v.Event(v.Head())
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CompactLog(ctx, oper, cut.Time.Add(1)); err != nil {
		t.Fatal(err)
	}
	cs, err := db.Changes("/h/bob/", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Changes) != 1 || cs.Changes[0].Name != "alice-work/" || cs.Changes[0].Deleted {
		t.Errorf("listing from the change index after compaction = %+v, want alice-work/ only", cs.Changes)
	}
	if _, err := db.Changes("/h/bob/", old, 0); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("a token from before the compacted revocation: %v, want ErrTokenExpired", err)
	}
	must(t, db.Verify(ctx))
}

// TestRestoreShareeHome: bob holds alice's cal (auto-accepted, renamed
// "team", his own displayname) and an invitation to her work calendar
// (pending) at t. Then he leaves cal, accepts work and carol shares her
// calendar with him. A restore of bob's home as of t (dry run first)
// mounts cal again as "team" with his displayname, puts work back to
// pending (unmounted), and leaves carol's share, which came later, as it
// is; the events are the operator's, a second restore finds nothing to
// do, and Verify passes after a rebuild.
func TestRestoreShareeHome(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	bob := Meta{Actor: "bob"}
	must(t, db.Grant(ctx, alice, "/h/alice/work/", "bob", AccessRead, GrantOptions{}))
	must(t, db.Grant(ctx, alice, "/h/alice/cal/", "bob", AccessReadWrite, GrantOptions{AutoAccept: true}))
	must(t, db.RenameMount(ctx, bob, "bob", "alice-cal", "team"))
	must(t, db.SetMountProps(ctx, bob, "bob", "team", Props{DisplayName: "Alice's"}))
	at := lastHistSeq(t, db, "/h/bob/")

	must(t, db.ReplyShare(ctx, bob, "bob", "/h/alice/cal/", false, ""))
	must(t, db.ReplyShare(ctx, bob, "bob", "/h/alice/work/", true, "w"))
	_, err := db.CreateCollection(ctx, Meta{Actor: "carol"}, CollectionSpec{Path: "/h/carol/c/", Kind: KindCalendar, Owner: "carol"})
	must(t, err)
	must(t, db.Grant(ctx, Meta{Actor: "carol"}, "/h/carol/c/", "bob", AccessRead, GrantOptions{AutoAccept: true}))
	if ms := mounts(t, db, "bob"); len(ms) != 2 || ms[0].Mount != "carol-c" || ms[1].Mount != "w" {
		t.Fatalf("bob's mounts before the restore = %+v", ms)
	}

	req := RestoreRequest{Path: "/h/bob/", At: AsOf{Seq: at}, DryRun: true}
	dry, err := db.Restore(ctx, oper, req)
	must(t, err)
	var got []string
	for _, a := range dry.Actions {
		got = append(got, a.String())
	}
	want := []string{
		"share-replied /h/alice/cal/ by bob accepted as team",
		"share-mount-changed /h/alice/cal/ of bob as team",
		"share-replied /h/alice/work/ by bob pending",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("dry run = %q, want %q", got, want)
	}
	req.DryRun = false
	_, err = db.Restore(ctx, oper, req)
	must(t, err)
	check := func(when string) {
		t.Helper()
		ms := mounts(t, db, "bob")
		if len(ms) != 2 || ms[0].Mount != "carol-c" || ms[1].Mount != "team" || ms[1].Collection.Path != "/h/alice/cal/" ||
			ms[1].Props.DisplayName != "Alice's" || ms[1].Reply != ReplyAccepted {
			t.Fatalf("bob's mounts %s = %+v", when, ms)
		}
		v, err := db.View()
		must(t, err)
		defer v.Close()
		sh, err := v.ShareOf("bob", "/h/alice/work/")
		if err != nil || sh.Reply != ReplyPending || sh.Mount != "" {
			t.Errorf("bob's share of work %s = %+v, %v; want pending", when, sh, err)
		}
	}
	check("after the restore")
	for _, e := range collHistory(t, db, "/h/alice/work/") {
		if e.Op == OpShareReplied && e.Actor != bob.Actor && e.Actor != oper.Actor {
			t.Errorf("reply %d by %q", e.Seq, e.Actor)
		}
	}
	again, err := db.Restore(ctx, oper, RestoreRequest{Path: "/h/bob/", At: AsOf{Seq: at}, DryRun: true})
	must(t, err)
	if len(again.Actions) != 0 {
		t.Errorf("a second restore would do %v", again.Actions)
	}
	must(t, db.Rebuild(ctx))
	must(t, db.Verify(ctx))
	check("after a rebuild")
}

package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/almanac/almanac/internal/testscale"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// sharingDB opens a database with users alice, bob, carol and their homes
// /h/<user>/, and alice's calendars /h/alice/cal/ and /h/alice/work/.
func sharingDB(tb testing.TB, fs vfs.FS) *DB {
	tb.Helper()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := db.PutUser(ctx, Meta{}, User{Name: u}); err != nil {
			tb.Fatal(err)
		}
		if _, err := db.CreateCollection(ctx, Meta{Actor: u}, CollectionSpec{Path: "/h/" + u + "/", Kind: KindHome, Owner: u}); err != nil {
			tb.Fatal(err)
		}
	}
	for _, c := range []string{"cal", "work"} {
		if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/h/alice/" + c + "/", Kind: KindCalendar, Owner: "alice"}); err != nil {
			tb.Fatal(err)
		}
	}
	return db
}

func access(tb testing.TB, db *DB, user, path string) Resolution {
	tb.Helper()
	v, err := db.View()
	if err != nil {
		tb.Fatal(err)
	}
	defer v.Close()
	r, err := v.Access(user, path)
	if err != nil {
		tb.Fatalf("Access(%s, %s): %v", user, path, err)
	}
	return r
}

func mounts(tb testing.TB, db *DB, user string) []*Share {
	tb.Helper()
	v, err := db.View()
	if err != nil {
		tb.Fatal(err)
	}
	defer v.Close()
	m, err := v.Mounts(user)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// TestShareGrantMountRevoke follows one share through its life: a grant
// with auto-accept mounts it in bob's home under "alice-cal" (bob's home
// CTag changes), bob reads and writes through the mount and through
// alice's URL, a downgrade to read takes effect at once, a revocation
// removes the mount (the home CTag changes again), and carol, who holds
// nothing, sees nothing.
func TestShareGrantMountRevoke(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	home0, err := db.Collection("/h/bob/")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Grant(ctx, alice, "/h/alice/cal/", "bob", AccessReadWrite, GrantOptions{AutoAccept: true}); err != nil {
		t.Fatal(err)
	}
	ms := mounts(t, db, "bob")
	if len(ms) != 1 || ms[0].Mount != "alice-cal" || ms[0].MountPath != "/h/bob/alice-cal/" ||
		ms[0].Access != AccessReadWrite || ms[0].Reply != ReplyAccepted || ms[0].Collection.Path != "/h/alice/cal/" {
		t.Fatalf("bob's mounts = %+v", ms)
	}
	home1, _ := db.Collection("/h/bob/")
	if home1.CTag == home0.CTag {
		t.Errorf("bob's home CTag did not change when the share arrived")
	}
	for _, tc := range []struct {
		user, path string
		want       Access
		target     string
	}{
		{"bob", "/h/bob/alice-cal/x.ics", AccessReadWrite, "/h/alice/cal/x.ics"},
		{"bob", "/h/bob/alice-cal/", AccessReadWrite, "/h/alice/cal/"},
		{"bob", "/h/alice/cal/x.ics", AccessReadWrite, "/h/alice/cal/x.ics"},
		{"bob", "/h/alice/work/x.ics", AccessNone, ""},
		{"bob", "/h/alice/", AccessNone, ""},
		{"bob", "/h/bob/cal2/", AccessOwner, "/h/bob/cal2/"},
		{"alice", "/h/alice/cal/x.ics", AccessOwner, "/h/alice/cal/x.ics"},
		{"carol", "/h/alice/cal/x.ics", AccessNone, ""},
		{"carol", "/h/bob/alice-cal/x.ics", AccessNone, ""},
		{"", "/h/alice/cal/x.ics", AccessNone, ""},
		{"bob", "/nowhere/x.ics", AccessNone, ""},
	} {
		r := access(t, db, tc.user, tc.path)
		if r.Access != tc.want || r.Target != tc.target {
			t.Errorf("Access(%s, %s) = %v %q, want %v %q", tc.user, tc.path, r.Access, r.Target, tc.want, tc.target)
		}
	}
	if err := db.Grant(ctx, alice, "/h/alice/cal/", "bob", AccessRead, GrantOptions{AutoAccept: true}); err != nil {
		t.Fatal(err)
	}
	if r := access(t, db, "bob", "/h/bob/alice-cal/x.ics"); r.Access != AccessRead {
		t.Errorf("after the downgrade: %v, want read", r.Access)
	}
	if err := db.Revoke(ctx, alice, "/h/alice/cal/", "bob"); err != nil {
		t.Fatal(err)
	}
	if ms := mounts(t, db, "bob"); len(ms) != 0 {
		t.Errorf("mounts after revoke = %+v", ms)
	}
	if r := access(t, db, "bob", "/h/bob/alice-cal/x.ics"); r.Access != AccessOwner || r.Target != "/h/bob/alice-cal/x.ics" {
		t.Errorf("after revoke the mount path is bob's own (missing) path, got %v %q", r.Access, r.Target)
	}
	if r := access(t, db, "bob", "/h/alice/cal/x.ics"); r.Access != AccessNone {
		t.Errorf("after revoke bob has %v on alice's URL", r.Access)
	}
	home2, _ := db.Collection("/h/bob/")
	if home2.CTag == home1.CTag {
		t.Errorf("bob's home CTag did not change when the share left")
	}
	if err := db.Revoke(ctx, alice, "/h/alice/cal/", "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second revoke: %v, want ErrNotFound", err)
	}
	// The history of alice's calendar and of bob's home show the share.
	for path, want := range map[string][]string{
		"/h/alice/cal/": {"share-granted alice bob read-write", "share-granted alice bob read", "share-revoked alice bob none"},
		"/h/bob/":       {"share-granted alice bob read-write", "share-revoked alice bob none"}, // the mount came and went
	} {
		if ops := shareEvents(t, db, path); !slices.Equal(ops, want) {
			t.Errorf("share events in the history of %s = %q, want %q", path, ops, want)
		}
	}
}

// collHistory is the history of the collection at path.
func collHistory(tb testing.TB, db *DB, path string) []*Event {
	tb.Helper()
	v, err := db.View()
	if err != nil {
		tb.Fatal(err)
	}
	defer v.Close()
	evs, err := v.CollectionHistory(path, zeroTime, zeroTime)
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

// shareEvents lists the share events in the history of path as
// "op actor grantee access".
func shareEvents(tb testing.TB, db *DB, path string) []string {
	tb.Helper()
	var ops []string
	for _, e := range collHistory(tb, db, path) {
		if e.Share != nil {
			ops = append(ops, fmt.Sprintf("%s %s %s %v", e.Op, e.Actor, e.Share.Grantee, e.Share.Access))
		}
	}
	return ops
}

// TestShareRefusals checks what Grant, PutGroup and PutUser refuse.
func TestShareRefusals(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	for _, tc := range []struct {
		desc string
		err  error
		want error
	}{
		{"no collection", db.Grant(ctx, alice, "/h/alice/nope/", "bob", AccessRead, GrantOptions{}), ErrNotFound},
		{"no grantee", db.Grant(ctx, alice, "/h/alice/cal/", "zed", AccessRead, GrantOptions{}), ErrNotFound},
		{"owner", db.Grant(ctx, alice, "/h/alice/cal/", "alice", AccessRead, GrantOptions{}), ErrConflict},
		{"home", db.Grant(ctx, alice, "/h/alice/", "bob", AccessRead, GrantOptions{}), ErrConflict},
		{"access", db.Grant(ctx, alice, "/h/alice/cal/", "bob", AccessOwner, GrantOptions{}), ErrInvalidName},
		{"group named like a user", db.PutGroup(ctx, alice, Group{Name: "bob"}), ErrExists},
		{"nested group", func() error {
			if err := db.PutGroup(ctx, alice, Group{Name: "g1"}); err != nil {
				return err
			}
			return db.PutGroup(ctx, alice, Group{Name: "g2", Members: []string{"g1"}})
		}(), ErrInvalidName},
		{"user named like a group", db.PutUser(ctx, alice, User{Name: "g1"}), ErrExists},
		{"reply without share", db.ReplyShare(ctx, alice, "carol", "/h/alice/cal/", true, ""), ErrNotFound},
		{"rename missing mount", db.RenameMount(ctx, alice, "carol", "x", "y"), ErrNotFound},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.desc, tc.err, tc.want)
		}
	}
	var lim *SharingLimitError
	members := make([]string, MaxGroupMembers+1)
	for i := range members {
		members[i] = fmt.Sprint("u", i)
	}
	if err := db.PutGroup(ctx, alice, Group{Name: "big", Members: members}); !errors.As(err, &lim) {
		t.Errorf("group over the member limit: %v", err)
	}
}

// TestShareReplyAndMount covers shares without auto-accept (pending until
// accepted, declined removes the mount), the choice of a unique mount name
// when bob owns a collection of the default name, a requested name, mount
// renames and per-sharee properties that leave the owner's alone, and that
// bob cannot create a collection over his mount.
func TestShareReplyAndMount(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	if _, err := db.CreateCollection(ctx, Meta{Actor: "bob"}, CollectionSpec{Path: "/h/bob/alice-cal/", Kind: KindCalendar, Owner: "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Grant(ctx, alice, "/h/alice/cal/", "bob", AccessRead, GrantOptions{}); err != nil {
		t.Fatal(err)
	}
	v, _ := db.View()
	sh, err := v.Shares("bob")
	v.Close()
	if err != nil || len(sh) != 1 || sh[0].Reply != ReplyPending || sh[0].Mount != "" {
		t.Fatalf("pending shares = %+v, %v", sh, err)
	}
	if ms := mounts(t, db, "bob"); len(ms) != 0 {
		t.Fatalf("a pending share is mounted: %+v", ms)
	}
	if err := db.ReplyShare(ctx, Meta{Actor: "bob"}, "bob", "/h/alice/cal/", true, ""); err != nil {
		t.Fatal(err)
	}
	if ms := mounts(t, db, "bob"); len(ms) != 1 || ms[0].Mount != "alice-cal-2" {
		t.Fatalf("mounts = %+v, want alice-cal-2 (alice-cal is bob's own)", ms)
	}
	if err := db.RenameMount(ctx, Meta{Actor: "bob"}, "bob", "alice-cal-2", "alice-cal"); !errors.Is(err, ErrExists) {
		t.Errorf("rename onto bob's collection: %v", err)
	}
	if err := db.RenameMount(ctx, Meta{Actor: "bob"}, "bob", "alice-cal-2", "family"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetMountProps(ctx, Meta{Actor: "bob"}, "bob", "family", Props{DisplayName: "Alice's", Color: "#FF0000FF"}); err != nil {
		t.Fatal(err)
	}
	if r := access(t, db, "bob", "/h/bob/family/a.ics"); r.Access != AccessRead || r.Target != "/h/alice/cal/a.ics" ||
		r.Share.Props.DisplayName != "Alice's" || r.Collection.Props.DisplayName != "" {
		t.Errorf("through the renamed mount: %+v", r)
	}
	if _, err := db.CreateCollection(ctx, Meta{Actor: "bob"}, CollectionSpec{Path: "/h/bob/family/", Kind: KindCalendar, Owner: "bob"}); !errors.Is(err, ErrExists) {
		t.Errorf("collection over a mount: %v", err)
	}
	if err := db.ReplyShare(ctx, Meta{Actor: "bob"}, "bob", "/h/alice/cal/", false, ""); err != nil {
		t.Fatal(err)
	}
	if ms := mounts(t, db, "bob"); len(ms) != 0 {
		t.Fatalf("mounts after decline = %+v", ms)
	}
	// A new grant invites bob again.
	if err := db.Grant(ctx, alice, "/h/alice/cal/", "bob", AccessReadWrite, GrantOptions{AutoAccept: true}); err != nil {
		t.Fatal(err)
	}
	if ms := mounts(t, db, "bob"); len(ms) != 1 || ms[0].Access != AccessReadWrite {
		t.Fatalf("mounts after the new grant = %+v", ms)
	}
	if err := db.DeleteCollection(ctx, alice, "/h/alice/cal/"); err != nil {
		t.Fatal(err)
	}
	if ms := mounts(t, db, "bob"); len(ms) != 0 {
		t.Fatalf("mounts after the collection's deletion = %+v", ms)
	}
	// A new collection at the same path inherits no grant.
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/h/alice/cal/", Kind: KindCalendar, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	if r := access(t, db, "bob", "/h/alice/cal/"); r.Access != AccessNone {
		t.Errorf("a new collection at the path: bob has %v", r.Access)
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestShareModel runs random grants, revocations, replies, delegations,
// group changes and collection deletions and checks after every step that what each
// user may do at each path equals a naive model, and at the end that a
// rebuild derives the same projections (Verify).
func TestShareModel(t *testing.T) {
	t.Parallel()
	steps := testscale.N(t, 600) // ALMANAC_TEST_SCALE: CI runs more
	if testing.Short() {
		steps = testscale.N(t, 200)
	}
	for _, seed := range []int64{1, 2} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			runShareModel(t, seed, steps)
		})
	}
}

type shareModel struct {
	grants  map[string]map[string]Access // collection path -> grantee -> access
	auto    map[string]map[string]bool   // collection path -> grantee -> auto-accept
	groups  map[string][]string          // group -> members
	reply   map[[2]string]Reply          // (user, path) -> reply
	live    map[string]bool              // collection path -> exists
	owner   map[string]string            // collection path -> owner
	proxies map[string]map[string]Access // delegator -> delegate -> access
}

// reaches reports whether a grant or delegation to principal reaches user.
func (m *shareModel) reaches(principal, user string) bool {
	return principal == user || slices.Contains(m.groups[principal], user)
}

// access is what user may do at an object path in collection path.
func (m *shareModel) access(user, path string) Access {
	if m.owner[path] == user {
		if !m.live[path] {
			return AccessNone
		}
		return AccessOwner
	}
	best := m.shareAccess(user, path)
	for d, a := range m.proxies[m.owner[path]] {
		if m.reaches(d, user) && a > best {
			best = a
		}
	}
	return best
}

// shareAccess is what user holds of collection path through grants.
func (m *shareModel) shareAccess(user, path string) Access {
	if !m.live[path] || m.owner[path] == user {
		return AccessNone
	}
	best := AccessNone
	for g, a := range m.grants[path] {
		if (g == user || slices.Contains(m.groups[g], user)) && a > best {
			best = a
		}
	}
	return best
}

func runShareModel(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewSource(seed))
	fs := vfs.NewMem()
	db := sharingDB(t, fs)
	users := []string{"alice", "bob", "carol"}
	colls := []string{"/h/alice/cal/", "/h/alice/work/", "/h/bob/b1/"}
	if _, err := db.CreateCollection(ctx, Meta{Actor: "bob"}, CollectionSpec{Path: "/h/bob/b1/", Kind: KindCalendar, Owner: "bob"}); err != nil {
		t.Fatal(err)
	}
	groups := []string{"g1", "g2"}
	m := &shareModel{grants: map[string]map[string]Access{}, auto: map[string]map[string]bool{}, groups: map[string][]string{},
		reply: map[[2]string]Reply{}, live: map[string]bool{}, owner: map[string]string{},
		proxies: map[string]map[string]Access{"alice": {}, "bob": {}}}
	for _, c := range colls {
		m.live[c], m.owner[c] = true, ownerOf(c)
		m.grants[c], m.auto[c] = map[string]Access{}, map[string]bool{}
	}
	for step := 0; step < steps; step++ {
		c := colls[rng.Intn(len(colls))]
		principals := append(append([]string(nil), users...), groups...)
		p := principals[rng.Intn(len(principals))]
		u := users[rng.Intn(len(users))]
		g := groups[rng.Intn(len(groups))]
		var desc string
		var err error
		switch r := rng.Intn(100); {
		case r < 30:
			a := []Access{AccessFreeBusy, AccessRead, AccessReadWrite}[rng.Intn(3)]
			auto := rng.Intn(3) > 0
			desc = fmt.Sprintf("grant %s %s %v auto=%v", c, p, a, auto)
			err = db.Grant(ctx, alice, c, p, a, GrantOptions{AutoAccept: auto})
			_, isGroup := m.groups[p]
			isUser := slices.Contains(users, p)
			switch {
			case !m.live[c]:
				expectErr(t, desc, err, is(ErrNotFound))
			case p == m.owner[c]:
				expectErr(t, desc, err, is(ErrConflict))
			case !isGroup && !isUser:
				expectErr(t, desc, err, is(ErrNotFound))
			default:
				mustOK(t, desc, err)
				m.grants[c][p], m.auto[c][p] = a, auto
				for _, x := range users {
					if m.shareAccess(x, c) == AccessNone {
						continue
					}
					k := [2]string{x, c}
					if x != m.owner[c] && (x == p || isGroup && slices.Contains(m.groups[p], x)) {
						if _, had := m.reply[k]; !had || m.reply[k] == ReplyDeclined {
							m.reply[k] = ReplyPending
						}
						if auto {
							m.reply[k] = ReplyAccepted
						}
					}
				}
			}
		case r < 45:
			desc = fmt.Sprintf("revoke %s %s", c, p)
			err = db.Revoke(ctx, alice, c, p)
			if _, ok := m.grants[c][p]; ok && m.live[c] {
				mustOK(t, desc, err)
				delete(m.grants[c], p)
			} else {
				expectErr(t, desc, err, is(ErrNotFound))
			}
		case r < 60:
			desc = fmt.Sprintf("member add %s %s", g, u)
			mustOK(t, desc, db.AddGroupMembers(ctx, alice, g, u))
			if !slices.Contains(m.groups[g], u) {
				m.groups[g] = append(m.groups[g], u)
			}
		case r < 70:
			desc = fmt.Sprintf("member remove %s %s", g, u)
			err = db.RemoveGroupMembers(ctx, alice, g, u)
			if _, ok := m.groups[g]; ok {
				mustOK(t, desc, err)
				m.groups[g] = slices.DeleteFunc(m.groups[g], func(x string) bool { return x == u })
			} else {
				expectErr(t, desc, err, is(ErrNotFound))
			}
		case r < 74:
			desc = fmt.Sprintf("group delete %s", g)
			err = db.DeleteGroup(ctx, alice, g)
			if _, ok := m.groups[g]; ok {
				mustOK(t, desc, err)
				delete(m.groups, g)
				for _, c := range colls {
					delete(m.grants[c], g)
				}
				for _, d := range m.proxies {
					delete(d, g)
				}
			} else {
				expectErr(t, desc, err, is(ErrNotFound))
			}
		case r < 80:
			d := []string{"alice", "bob"}[rng.Intn(2)]
			a := []Access{AccessNone, AccessRead, AccessReadWrite}[rng.Intn(3)]
			desc = fmt.Sprintf("proxy %s %s %v", d, p, a)
			err = db.SetProxy(ctx, Meta{Actor: d}, d, p, a)
			_, isGroup := m.groups[p]
			_, had := m.proxies[d][p]
			switch {
			case d == p:
				expectErr(t, desc, err, is(ErrConflict))
			case a == AccessNone && !had, a != AccessNone && !had && !isGroup && !slices.Contains(users, p):
				expectErr(t, desc, err, is(ErrNotFound))
			case a == AccessNone:
				mustOK(t, desc, err)
				delete(m.proxies[d], p)
			default:
				mustOK(t, desc, err)
				m.proxies[d][p] = a
			}
		case r < 88:
			accept := rng.Intn(2) == 0
			desc = fmt.Sprintf("reply %s %s %v", u, c, accept)
			err = db.ReplyShare(ctx, Meta{Actor: u}, u, c, accept, "")
			if m.shareAccess(u, c) > AccessNone {
				mustOK(t, desc, err)
				m.reply[[2]string{u, c}] = map[bool]Reply{true: ReplyAccepted, false: ReplyDeclined}[accept]
			} else {
				expectErr(t, desc, err, is(ErrNotFound))
			}
		case r < 92:
			desc = fmt.Sprintf("toggle %s", c)
			if m.live[c] {
				mustOK(t, desc, db.DeleteCollection(ctx, alice, c))
				m.live[c] = false
				m.grants[c], m.auto[c] = map[string]Access{}, map[string]bool{}
			} else {
				_, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: c, Kind: KindCalendar, Owner: m.owner[c]})
				mustOK(t, desc, err)
				m.live[c] = true
			}
		default:
			desc = "verify"
			if step%4 == 0 {
				mustOK(t, desc, db.Verify(ctx))
			}
		}
		desc = fmt.Sprintf("step %d: %s", step, desc)
		// Shares that appeared without a grant (a member joined) are
		// accepted when a grant reaching the user auto-accepts, else
		// pending; shares that left forget their reply.
		for _, x := range users {
			for _, c := range colls {
				k := [2]string{x, c}
				if m.shareAccess(x, c) == AccessNone {
					delete(m.reply, k)
					continue
				}
				if _, ok := m.reply[k]; ok {
					continue
				}
				m.reply[k] = ReplyPending
				for gr := range m.grants[c] {
					if (gr == x || slices.Contains(m.groups[gr], x)) && m.auto[c][gr] {
						m.reply[k] = ReplyAccepted
					}
				}
			}
		}
		checkShareModel(t, db, m, users, colls, desc)
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	db = reopenStale(t, db, fs)
	defer db.Close()
	checkShareModel(t, db, m, users, colls, "after the rebuild in Open")
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func ownerOf(path string) string {
	seg, _, _ := nextSegment("/h/", path)
	return seg
}

func checkShareModel(t *testing.T, db *DB, m *shareModel, users, colls []string, desc string) {
	t.Helper()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, u := range users {
		byTarget := map[string]*Share{}
		ms, err := v.Mounts(u)
		if err != nil {
			t.Fatalf("%s: mounts of %s: %v", desc, u, err)
		}
		for _, s := range ms {
			byTarget[s.Collection.Path] = s
		}
		for _, c := range colls {
			want := m.access(u, c)
			r, err := v.Access(u, c+"x.ics")
			if err != nil {
				t.Fatalf("%s: %v", desc, err)
			}
			got := r.Access
			if !m.live[c] && r.Access == AccessOwner && m.owner[c] == u {
				got = AccessNone // the owner's own missing path
			}
			if got != want || got != AccessNone && r.Target != c+"x.ics" {
				t.Fatalf("%s: Access(%s, %s) = %v, model %v", desc, u, c, r.Access, want)
			}
			shared := m.shareAccess(u, c)
			wantMounted := shared > AccessNone && m.reply[[2]string{u, c}] == ReplyAccepted
			s := byTarget[c]
			if (s != nil) != wantMounted {
				t.Fatalf("%s: %s mounted %s: %v, model %v (reply %v)", desc, u, c, s != nil, wantMounted, m.reply[[2]string{u, c}])
			}
			if s != nil {
				rm, err := v.Access(u, s.MountPath+"y.ics")
				if err != nil || rm.Access != shared || rm.Target != c+"y.ics" {
					t.Fatalf("%s: through mount %s: %+v, %v", desc, s.MountPath, rm, err)
				}
			}
		}
	}
}

// TestReadableLog checks the events a user's feed reads: their own, those
// of a collection shared with them while it is (not a free-busy share),
// and those of a delegator's whole home while the delegation lasts; each
// once.
func TestReadableLog(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	bob := Meta{Actor: "bob"}
	put := func(m Meta, path, name string) Seq {
		t.Helper()
		r, err := db.PutObject(ctx, m, path, name, event(name), PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Seq
	}
	seqs := func(user string) []string {
		t.Helper()
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		var out []string
		for ev, err := range v.ReadableLog(user, 1) {
			if err != nil {
				t.Fatal(err)
			}
			if ev.Op == OpObjectPut {
				out = append(out, ev.CollectionPath+ev.Object)
			}
		}
		return out
	}
	put(alice, "/h/alice/cal/", "a1")
	put(alice, "/h/alice/work/", "w1")
	put(bob, "/h/bob/", "b1")
	if got := seqs("bob"); !slices.Equal(got, []string{"/h/bob/b1"}) {
		t.Errorf("before sharing: %q", got)
	}
	must(t, db.Grant(ctx, alice, "/h/alice/cal/", "bob", AccessFreeBusy, GrantOptions{AutoAccept: true}))
	if got := seqs("bob"); !slices.Equal(got, []string{"/h/bob/b1"}) {
		t.Errorf("free-busy share: %q", got)
	}
	must(t, db.Grant(ctx, alice, "/h/alice/cal/", "bob", AccessRead, GrantOptions{AutoAccept: true}))
	put(alice, "/h/alice/cal/", "a2")
	if got := seqs("bob"); !slices.Equal(got, []string{"/h/alice/cal/a1", "/h/bob/b1", "/h/alice/cal/a2"}) {
		t.Errorf("read share: %q", got)
	}
	must(t, db.PutGroup(ctx, alice, Group{Name: "team", Members: []string{"bob"}}))
	must(t, db.SetProxy(ctx, alice, "alice", "team", AccessRead))
	if got := seqs("bob"); !slices.Equal(got, []string{"/h/alice/cal/a1", "/h/alice/work/w1", "/h/bob/b1", "/h/alice/cal/a2"}) {
		t.Errorf("share and delegation: %q", got)
	}
	if got := seqs("carol"); len(got) != 0 {
		t.Errorf("carol reads %q", got)
	}
	must(t, db.Revoke(ctx, alice, "/h/alice/cal/", "bob"))
	must(t, db.SetProxy(ctx, alice, "alice", "team", AccessNone))
	if got := seqs("bob"); !slices.Equal(got, []string{"/h/bob/b1"}) {
		t.Errorf("after the revocations: %q", got)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestLinks creates, lists, resolves and revokes public links: the token
// resolves to the collection until revoked, the log and the projections
// hold only its hash, a renamed collection keeps its links, a deleted one
// loses them, and a rebuild derives the same links.
func TestLinks(t *testing.T) {
	fs := vfs.NewMem()
	db := sharingDB(t, fs)
	tok, l, err := db.CreateLink(ctx, alice, "/h/alice/cal/", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 43 || l.Path != "/h/alice/cal/" || l.FreeBusyOnly || len(l.ID) != 12 || l.Actor != "alice" {
		t.Fatalf("link %q: %+v", tok, l)
	}
	tok2, _, err := db.CreateLink(ctx, alice, "/h/alice/cal/", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateLink(ctx, alice, "/h/alice/", false); !errors.Is(err, ErrConflict) {
		t.Errorf("link to a home: %v", err)
	}
	// The token is nowhere in the log or the projections.
	it, err := db.pdb.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	for it.First(); it.Valid(); it.Next() {
		if bytes.Contains(it.Key(), []byte(tok)) || bytes.Contains(it.Value(), []byte(tok)) {
			t.Errorf("the token is stored at %q", it.Key())
		}
	}
	it.Close()
	if _, err := db.MoveCollection(ctx, alice, "/h/alice/cal/", "/h/alice/renamed/", false); err != nil {
		t.Fatal(err)
	}
	check := func(desc string, token string, want string) {
		t.Helper()
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		l, err := v.Link(token)
		got := ""
		if err == nil {
			got = l.Path
		} else if !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: link resolves to %q, want %q", desc, got, want)
		}
	}
	check("renamed", tok, "/h/alice/renamed/")
	check("wrong token", tok[:42]+"x", "")
	v, _ := db.View()
	ls, err := v.Links("/h/alice/renamed/")
	v.Close()
	if err != nil || len(ls) != 2 || ls[1].FreeBusyOnly != true {
		t.Fatalf("links: %+v, %v", ls, err)
	}
	if err := db.RevokeLink(ctx, alice, "/h/alice/renamed/", ls[0].ID); err != nil {
		t.Fatal(err)
	}
	check("revoked", tok, "")
	check("the other", tok2, "/h/alice/renamed/")
	if err := db.RevokeLink(ctx, alice, "/h/alice/renamed/", ls[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second revoke: %v", err)
	}
	db = reopenStale(t, db, fs)
	defer db.Close()
	check("after a rebuild", tok2, "/h/alice/renamed/")
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteCollection(ctx, alice, "/h/alice/renamed/"); err != nil {
		t.Fatal(err)
	}
	check("deleted", tok2, "")
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestDeletedUserInheritsNothing: an account deleted and created again
// under the same name gets neither the grants nor the delegations made to
// the old one (a group's shares stay: membership is by name).
func TestDeletedUserInheritsNothing(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	must(t, db.Grant(ctx, alice, "/h/alice/cal/", "bob", AccessReadWrite, GrantOptions{AutoAccept: true}))
	must(t, db.SetProxy(ctx, alice, "alice", "bob", AccessRead))
	must(t, db.PutGroup(ctx, alice, Group{Name: "team", Members: []string{"bob"}}))
	must(t, db.Grant(ctx, alice, "/h/alice/work/", "team", AccessRead, GrantOptions{AutoAccept: true}))
	must(t, db.DeleteUser(ctx, alice, "bob"))
	must(t, db.PutUser(ctx, alice, User{Name: "bob"}))
	for path, want := range map[string]Access{"/h/alice/cal/x.ics": AccessNone, "/h/alice/x.ics": AccessNone, "/h/alice/work/x.ics": AccessRead} {
		if r := access(t, db, "bob", path); r.Access != want {
			t.Errorf("the new bob at %s: %v, want %v", path, r.Access, want)
		}
	}
	if ms := mounts(t, db, "bob"); len(ms) != 1 || ms[0].Collection.Path != "/h/alice/work/" {
		t.Errorf("the new bob's mounts: %+v", ms)
	}
	v, _ := db.View()
	defer v.Close()
	if gs, err := v.Grants("/h/alice/cal/"); err != nil || len(gs) != 0 {
		t.Errorf("grants left on alice's calendar: %+v, %v", gs, err)
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestDeletedPrincipalsRevokedAsEvents: deleting a user or a group
// appends, before the deletion, a revocation of each grant to it and a
// withdrawal of each delegation to it, by whoever deleted it and with a
// reason naming the deletion; afterwards no grant or delegation names it,
// and a rebuild agrees.
func TestDeletedPrincipalsRevokedAsEvents(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	admin := Meta{Actor: "admin"}
	must(t, db.PutGroup(ctx, alice, Group{Name: "team", Members: []string{"carol"}}))
	for _, p := range []string{"bob", "team"} {
		must(t, db.Grant(ctx, alice, "/h/alice/cal/", p, AccessRead, GrantOptions{AutoAccept: true}))
		must(t, db.SetProxy(ctx, alice, "alice", p, AccessRead))
	}
	must(t, db.DeleteUser(ctx, admin, "bob"))
	must(t, db.DeleteGroup(ctx, admin, "team"))
	ops := shareEvents(t, db, "/h/alice/cal/")
	if want := []string{"share-revoked admin bob none", "share-revoked admin team none"}; !slices.Equal(ops[len(ops)-2:], want) {
		t.Errorf("share events of alice's calendar end with %q, want %q", ops, want)
	}
	var got []string
	v, err := db.View()
	must(t, err)
	defer v.Close()
	for seq := Seq(1); ; seq++ {
		e, err := v.Event(seq)
		if errors.Is(err, ErrNotFound) {
			break
		}
		must(t, err)
		if e.Proxy != nil && e.Actor == "admin" {
			got = append(got, fmt.Sprintf("%s %s %v %s", e.Op, e.Proxy.Delegate, e.Proxy.Access, e.Reason))
		}
	}
	if want := []string{"proxy-set bob none user bob deleted", "proxy-set team none group team deleted"}; !slices.Equal(got, want) {
		t.Errorf("alice's delegation events by admin = %q, want %q", got, want)
	}
	if gs, err := v.Grants("/h/alice/cal/"); err != nil || len(gs) != 0 {
		t.Errorf("grants left: %+v, %v", gs, err)
	}
	if ps, err := v.Proxies("alice"); err != nil || len(ps) != 0 {
		t.Errorf("delegates left: %+v, %v", ps, err)
	}
	must(t, db.Rebuild(ctx))
	must(t, db.Verify(ctx))
}

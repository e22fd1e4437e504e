package engine

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestPutObject(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	first, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{IfNoneMatch: true})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		o, err := db.Object("/alice/cal/", "a.ics", true)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(o.Body), string(event("a")); got != want {
			t.Errorf("body = %q, want %q", got, want)
		}
		if o.ETag != first.ETag || o.UID != "a" || o.Component != "VEVENT" || o.ContentType != ContentTypeCalendar {
			t.Errorf("object = %+v", o)
		}
		if !first.Created {
			t.Error("first put not reported as created")
		}
	})
	t.Run("Replace", func(t *testing.T) {
		r, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{IfMatch: first.ETag})
		if err != nil {
			t.Fatal(err)
		}
		if r.Created || r.ETag == first.ETag {
			t.Errorf("replace = %+v, want a new ETag and Created false", r)
		}
	})
	cases := []struct {
		name string
		path string
		obj  string
		body []byte
		opts PutOptions
		want func(error) bool
	}{
		{"ErrIfNoneMatch", "/alice/cal/", "a.ics", event("a"), PutOptions{IfNoneMatch: true}, isETagMismatch},
		{"ErrIfMatch", "/alice/cal/", "a.ics", event("a"), PutOptions{IfMatch: `"nope"`}, isETagMismatch},
		{"ErrIfMatchMissing", "/alice/cal/", "zz.ics", event("zz"), PutOptions{IfMatch: "*"}, isETagMismatch},
		{"ErrUIDConflict", "/alice/cal/", "b.ics", event("a"), PutOptions{}, func(err error) bool {
			var e *UIDConflictError
			return errors.As(err, &e) && e.UID == "a" && e.Href == "/alice/cal/a.ics"
		}},
		{"ErrNoCollection", "/alice/nope/", "a.ics", event("x"), PutOptions{}, is(ErrNotFound)},
		{"ErrInvalidName", "/alice/cal/", "a/b.ics", event("x"), PutOptions{}, is(ErrInvalidName)},
		{"ErrDotName", "/alice/cal/", "..", event("x"), PutOptions{}, is(ErrInvalidName)},
		{"ErrMalformed", "/alice/cal/", "m.ics", []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n"), PutOptions{}, cond(CondValidCalendarData)},
		{"ErrGoICalPanic", "/alice/cal/", "m.ics", []byte("BEGIN:VCALENDAR\r\nX-A;P=\"q\"z:v\r\nEND:VCALENDAR\r\n"), PutOptions{}, cond(CondValidCalendarData)},
		{"ErrNotCalendar", "/alice/cal/", "m.ics", []byte("hello"), PutOptions{}, cond(CondValidCalendarData)},
		{"ErrMethod", "/alice/cal/", "m.ics", []byte(strings.Replace(string(event("m")), "VERSION:2.0", "VERSION:2.0\r\nMETHOD:REQUEST", 1)), PutOptions{}, cond(CondValidCalendarObjectResource)},
		{"ErrNoUID", "/alice/cal/", "m.ics", []byte(strings.Replace(string(event("m")), "UID:m\r\n", "", 1)), PutOptions{}, cond(CondValidCalendarObjectResource)},
		{"ErrTwoUIDs", "/alice/cal/", "m.ics", twoEvents("m1", "m2"), PutOptions{}, cond(CondValidCalendarObjectResource)},
		{"ErrTwoMasters", "/alice/cal/", "m.ics", twoEvents("m1", "m1"), PutOptions{}, cond(CondValidCalendarObjectResource)},
		{"ErrUnsupportedComponent", "/alice/cal/", "j.ics", journal("j"), PutOptions{}, cond(CondSupportedCalendarComponent)},
		{"ErrTooDeep", "/alice/cal/", "d.ics", []byte(strings.Repeat("BEGIN:X\r\n", 100)), PutOptions{}, cond(CondValidCalendarData)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := db.Head()
			_, err := db.PutObject(ctx, alice, tc.path, tc.obj, tc.body, tc.opts)
			if !tc.want(err) {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if db.Head() != before {
				t.Error("a rejected put appended to the log")
			}
		})
	}
}

func TestPutObjectSizeLimit(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	big := make([]byte, db.MaxObjectSize()+1)
	_, err := db.PutObject(ctx, alice, "/alice/cal/", "big.ics", big, PutOptions{})
	if !cond(CondMaxResourceSize)(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestVCard(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/book/", Kind: KindAddressBook, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	card := func(version, uid string) []byte {
		s := "BEGIN:VCARD\r\nVERSION:" + version + "\r\nFN:Ann\r\nN:Ann;;;;\r\n"
		if uid != "" {
			s += "UID:" + uid + "\r\n"
		}
		return []byte(s + "END:VCARD\r\n")
	}
	t.Run("OK", func(t *testing.T) {
		for _, v := range []string{"3.0", "4.0"} {
			if _, err := db.PutObject(ctx, alice, "/alice/book/", "v"+v+".vcf", card(v, "u"+v), PutOptions{}); err != nil {
				t.Fatalf("vCard %s: %v", v, err)
			}
		}
		o, err := db.Object("/alice/book/", "v4.0.vcf", false)
		if err != nil || o.UID != "u4.0" || o.ContentType != ContentTypeVCard {
			t.Fatalf("object = %+v, %v", o, err)
		}
	})
	t.Run("NoUID", func(t *testing.T) {
		if _, err := db.PutObject(ctx, alice, "/alice/book/", "n1.vcf", card("3.0", ""), PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PutObject(ctx, alice, "/alice/book/", "n2.vcf", card("3.0", ""), PutOptions{}); err != nil {
			t.Fatal("two vCards without UID conflict:", err)
		}
	})
	t.Run("ErrUIDConflict", func(t *testing.T) {
		var e *UIDConflictError
		_, err := db.PutObject(ctx, alice, "/alice/book/", "x.vcf", card("4.0", "u4.0"), PutOptions{})
		if !errors.As(err, &e) || e.Href != "/alice/book/v4.0.vcf" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrVersion", func(t *testing.T) {
		_, err := db.PutObject(ctx, alice, "/alice/book/", "x.vcf", card("2.1", "x"), PutOptions{})
		if !cond(CondSupportedAddressData)(err) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		_, err := db.PutObject(ctx, alice, "/alice/book/", "x.vcf", []byte("BEGIN:VCARD\r\nFN:x\r\n"), PutOptions{})
		if !cond(CondValidAddressData)(err) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDeleteObject(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	r, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteObject(ctx, alice, "/alice/cal/", "a.ics", `"wrong"`); !isETagMismatch(err) {
		t.Fatalf("delete with wrong If-Match: %v", err)
	}
	if err := db.DeleteObject(ctx, alice, "/alice/cal/", "a.ics", r.ETag); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteObject(ctx, alice, "/alice/cal/", "a.ics", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// The UID is free again.
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "b.ics", event("a"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	c, _ := db.Collection("/alice/cal/")
	if c.Count != 1 {
		t.Errorf("count = %d, want 1", c.Count)
	}
}

func TestMoveCopy(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/work/", Kind: KindCalendar, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/book/", Kind: KindAddressBook, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	mv := func(req MoveRequest) error { _, err := db.MoveObject(ctx, alice, req); return err }

	if err := mv(MoveRequest{FromPath: "/alice/cal/", FromName: "a.ics", ToPath: "/alice/work/", ToName: "a.ics"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Object("/alice/cal/", "a.ics", false); !errors.Is(err, ErrNotFound) {
		t.Error("source still exists after move")
	}
	o, err := db.Object("/alice/work/", "a.ics", true)
	if err != nil || string(o.Body) != string(event("a")) {
		t.Fatalf("destination after move: %v", err)
	}
	if err := mv(MoveRequest{FromPath: "/alice/work/", FromName: "a.ics", ToPath: "/alice/cal/", ToName: "a.ics", Copy: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Object("/alice/work/", "a.ics", false); err != nil {
		t.Error("copy removed the source")
	}
	cases := []struct {
		name string
		req  MoveRequest
		want func(error) bool
	}{
		{"ErrNoOverwrite", MoveRequest{FromPath: "/alice/work/", FromName: "a.ics", ToPath: "/alice/cal/", ToName: "a.ics"}, is(ErrExists)},
		{"ErrUIDConflict", MoveRequest{FromPath: "/alice/work/", FromName: "a.ics", ToPath: "/alice/cal/", ToName: "other.ics", Copy: true}, func(err error) bool {
			var e *UIDConflictError
			return errors.As(err, &e)
		}},
		{"ErrKinds", MoveRequest{FromPath: "/alice/work/", FromName: "a.ics", ToPath: "/alice/book/", ToName: "a.ics"}, is(ErrConflict)},
		{"ErrNoDestination", MoveRequest{FromPath: "/alice/work/", FromName: "a.ics", ToPath: "/alice/none/", ToName: "a.ics"}, is(ErrConflict)},
		{"ErrSame", MoveRequest{FromPath: "/alice/work/", FromName: "a.ics", ToPath: "/alice/work/", ToName: "a.ics"}, is(ErrConflict)},
		{"ErrNoSource", MoveRequest{FromPath: "/alice/work/", FromName: "z.ics", ToPath: "/alice/cal/", ToName: "z.ics"}, is(ErrNotFound)},
		{"ErrIfMatch", MoveRequest{FromPath: "/alice/work/", FromName: "a.ics", ToPath: "/alice/cal/", ToName: "a.ics", Overwrite: true, IfMatch: `"x"`}, isETagMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := mv(tc.req); !tc.want(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	t.Run("Overwrite", func(t *testing.T) {
		if err := mv(MoveRequest{FromPath: "/alice/work/", FromName: "a.ics", ToPath: "/alice/cal/", ToName: "a.ics", Overwrite: true}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/alice/cal/", "/alice/work/"} {
			if err := db.Verify(ctx); err != nil {
				t.Fatalf("verify after overwrite into %s: %v", p, err)
			}
		}
	})
}

func TestCollections(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	create := func(path string, kind Kind) error {
		_, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: path, Kind: kind, Owner: "alice"})
		return err
	}
	cases := []struct {
		name, path string
		kind       Kind
		want       func(error) bool
	}{
		{"ErrExists", "/alice/cal/", KindCalendar, is(ErrExists)},
		{"ErrNoParent", "/alice/x/y/", KindPlain, is(ErrConflict)},
		{"ErrInsideCalendar", "/alice/cal/sub/", KindPlain, is(ErrConflict)},
		{"ErrBadPath", "/alice/../", KindPlain, is(ErrInvalidName)},
		{"ErrNoSlash", "/alice/x", KindPlain, is(ErrInvalidName)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := create(tc.path, tc.kind); !tc.want(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	t.Run("NestedDelete", func(t *testing.T) {
		for _, p := range []string{"/alice/p/", "/alice/p/q/", "/alice/p/q/r/"} {
			if err := create(p, KindPlain); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.PutObject(ctx, alice, "/alice/p/q/", "f.txt", []byte("x"), PutOptions{ContentType: "text/plain"}); err != nil {
			t.Fatal(err)
		}
		v, _ := db.View()
		kids, err := v.Children("/alice/")
		v.Close()
		if err != nil || len(kids) != 2 {
			t.Fatalf("children of /alice/: %d, %v", len(kids), err)
		}
		if err := db.DeleteCollection(ctx, alice, "/alice/p/"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/alice/p/", "/alice/p/q/", "/alice/p/q/r/"} {
			if _, err := db.Collection(p); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s survived its parent's deletion", p)
			}
		}
		// The path can be used again, by a new collection with its own id.
		if err := create("/alice/p/", KindPlain); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Object("/alice/p/", "f.txt", false); !errors.Is(err, ErrNotFound) {
			t.Error("object of a deleted collection visible in its successor")
		}
		if err := db.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("NameClash", func(t *testing.T) {
		if _, err := db.PutObject(ctx, alice, "/alice/", "cal", []byte("x"), PutOptions{}); !errors.Is(err, ErrConflict) {
			t.Fatalf("object over a collection name: %v", err)
		}
	})
}

func TestUpdateProps(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	c := MustCalendar(t, db)
	err := db.UpdateProps(ctx, alice, "/alice/cal/", func(p *Props) error {
		p.DisplayName = "Work"
		p.Dead = map[string]string{"{urn:x}color": `<x:color xmlns:x="urn:x">red</x:color>`}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := db.Collection("/alice/cal/")
	if c2.Props.DisplayName != "Work" || c2.Props.Dead["{urn:x}color"] == "" {
		t.Errorf("props = %+v", c2.Props)
	}
	if c2.CTag == c.CTag || c2.SyncToken == c.SyncToken {
		t.Error("CTag/sync token unchanged by a property change")
	}
	boom := errors.New("boom")
	if err := db.UpdateProps(ctx, alice, "/alice/cal/", func(p *Props) error { p.DisplayName = "X"; return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	c3, _ := db.Collection("/alice/cal/")
	if c3.Props.DisplayName != "Work" || c3.CTag != c2.CTag {
		t.Error("a rejected property change was applied")
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	if err := db.PutUser(ctx, alice, User{Name: "bob", PasswordHash: "$2a$10$x"}); err != nil {
		t.Fatal(err)
	}
	u, err := db.User("bob")
	if err != nil || u.Role != RoleUser || u.PasswordHash != "$2a$10$x" {
		t.Fatalf("user = %+v, %v", u, err)
	}
	if err := db.DeleteUser(ctx, alice, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.User("bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted user: %v", err)
	}
	if err := db.DeleteUser(ctx, alice, "bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestUserByToken: the token index follows tokens created, revoked and
// the deletion of their user, and survives a rebuild.
func TestUserByToken(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	holder := func(id string) string {
		t.Helper()
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		u, err := v.UserByToken(id)
		if errors.Is(err, ErrNotFound) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return u.Name
	}
	put := func(u User) {
		t.Helper()
		if err := db.PutUser(ctx, alice, u); err != nil {
			t.Fatal(err)
		}
	}
	put(User{Name: "bob", Tokens: []APIToken{{ID: "t1"}, {ID: "t2"}}})
	put(User{Name: "carol", Tokens: []APIToken{{ID: "t3"}}})
	if got := holder("t1") + holder("t2") + holder("t3"); got != "bobbobcarol" {
		t.Fatalf("holders = %q", got)
	}
	put(User{Name: "bob", Tokens: []APIToken{{ID: "t2"}}}) // t1 revoked
	if got := holder("t1"); got != "" {
		t.Errorf("revoked token held by %q", got)
	}
	if err := db.DeleteUser(ctx, alice, "carol"); err != nil {
		t.Fatal(err)
	}
	if got := holder("t3"); got != "" {
		t.Errorf("token of a deleted user held by %q", got)
	}
	if err := db.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if got := holder("t1") + holder("t2") + holder("t3"); got != "bob" {
		t.Errorf("holders after rebuild = %q", got)
	}
	if err := db.Verify(ctx); err != nil {
		t.Error(err)
	}
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

func isETagMismatch(err error) bool {
	var e *ETagMismatchError
	return errors.As(err, &e)
}

func cond(c Condition) func(error) bool {
	return func(err error) bool {
		var e *InvalidDataError
		return errors.As(err, &e) && e.Cond == c
	}
}

// TestPutSeesCollectionChanges: PutObject validates against a cached copy
// of the collection; whatever happens to the collection between puts, a
// put is judged by the collection as it is when it commits.
func TestPutSeesCollectionChanges(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	unsupported := func(err error) bool {
		var e *InvalidDataError
		return errors.As(err, &e) && e.Cond == CondSupportedCalendarComponent
	}
	setComponents := func(comps ...string) {
		t.Helper()
		if err := db.UpdateProps(ctx, alice, "/alice/cal/", func(p *Props) error { p.Components = comps; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", event("a"), PutOptions{}); err != nil {
		t.Fatal(err)
	}

	// The component set shrinks: the cached one would accept the event.
	setComponents("VTODO")
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "b.ics", event("b"), PutOptions{}); !unsupported(err) {
		t.Fatalf("VEVENT into a VTODO-only calendar: %v", err)
	}
	// It grows again: the cached one may refuse what is now allowed.
	setComponents("VEVENT", "VJOURNAL")
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "j.ics", journal("j"), PutOptions{}); err != nil {
		t.Fatalf("VJOURNAL after it was allowed: %v", err)
	}

	// The collection is deleted, then another one takes its path.
	if err := db.DeleteCollection(ctx, alice, "/alice/cal/"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "c.ics", event("c"), PutOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("put into a deleted calendar: %v", err)
	}
	fresh, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/cal/", Kind: KindCalendar, Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.PutObject(ctx, alice, "/alice/cal/", "d.ics", event("d"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if o, err := db.Object("/alice/cal/", "d.ics", false); err != nil || o.ETag != res.ETag {
		t.Fatalf("object in the new calendar %d: %v, %v", fresh.ID, o, err)
	}

	// It moves away: its old path is free, its new one takes puts.
	if _, err := db.MoveCollection(ctx, alice, "/alice/cal/", "/alice/moved/", false); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "e.ics", event("e"), PutOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("put into a moved calendar's old path: %v", err)
	}
	if _, err := db.PutObject(ctx, alice, "/alice/moved/", "e.ics", event("e"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestNotUTF8 covers bytes that are not UTF-8 where the log keeps strings:
// names and bodies are refused with their precondition, header-borne
// strings are recorded with replacement characters.
func TestNotUTF8(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/book/", Kind: KindAddressBook, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "caf\xe9.ics", event("x"), PutOptions{}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("name not UTF-8: %v, want ErrInvalidName", err)
	}
	latin1 := bytes.Replace(event("l"), []byte("SUMMARY:"), []byte("SUMMARY:caf\xe9 "), 1)
	var inv *InvalidDataError
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "l.ics", latin1, PutOptions{}); !errors.As(err, &inv) || inv.Cond != CondValidCalendarData {
		t.Errorf("Latin-1 calendar: %v, want %s", err, CondValidCalendarData)
	}
	card := []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nN:Ann;;;;\r\nUID:u\xff\r\nEND:VCARD\r\n")
	if _, err := db.PutObject(ctx, alice, "/alice/book/", "c.vcf", card, PutOptions{}); !errors.As(err, &inv) || inv.Cond != CondValidAddressData {
		t.Errorf("vCard UID not UTF-8: %v, want %s", err, CondValidAddressData)
	}
	m := Meta{Actor: "alice", UserAgent: "Kalender/2 (caf\xe9)", RequestID: "r\x80"}
	if _, err := db.PutObject(ctx, m, "/alice/cal/", "a.ics", event("a"), PutOptions{}); err != nil {
		t.Fatalf("User-Agent not UTF-8: %v", err)
	}
	v, _ := db.View()
	defer v.Close()
	hist, err := v.History("/alice/cal/", "a.ics")
	if err != nil || len(hist) != 1 {
		t.Fatalf("history: %v, %d events", err, len(hist))
	}
	if got, want := hist[0].UserAgent, "Kalender/2 (caf\uFFFD)"; got != want {
		t.Errorf("recorded User-Agent %q, want %q", got, want)
	}
	if got, want := hist[0].RequestID, "r\uFFFD"; got != want {
		t.Errorf("recorded request id %q, want %q", got, want)
	}
	if o, err := db.Object("/alice/cal/", "l.ics", false); err != ErrNotFound {
		t.Errorf("refused put left %v, %v", o, err)
	}
}

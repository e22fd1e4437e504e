package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestNameLimits: every write API refuses a segment, a name or a path
// over the limits with a *NameTooLongError that is an ErrInvalidName.
func TestNameLimits(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	long := strings.Repeat("n", DefaultMaxNameLength+1)
	ok := strings.Repeat("n", DefaultMaxNameLength)
	deep := "/alice/" + strings.Repeat(ok+"/", 4) // 7 + 4*256 = 1031 > 1024
	ev := []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	check := func(name string, err error) {
		t.Helper()
		var tl *NameTooLongError
		if !errors.As(err, &tl) || !errors.Is(err, ErrInvalidName) {
			t.Errorf("%s: err = %v, want a *NameTooLongError", name, err)
		}
	}
	_, err := db.PutObject(ctx, alice, "/alice/cal/", long+".ics", ev, PutOptions{})
	check("PutObject name", err)
	_, err = db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/" + long + "/", Kind: KindPlain, Owner: "alice"})
	check("CreateCollection segment", err)
	_, err = db.CreateCollection(ctx, alice, CollectionSpec{Path: deep, Kind: KindPlain, Owner: "alice"})
	check("CreateCollection path", err)
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", ev, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = db.MoveObject(ctx, alice, MoveRequest{FromPath: "/alice/cal/", FromName: "a.ics", ToPath: "/alice/cal/", ToName: long})
	check("MoveObject", err)
	_, err = db.MoveCollection(ctx, alice, "/alice/cal/", "/alice/"+long+"/", false)
	check("MoveCollection", err)
	_, err = db.CopyCollection(ctx, alice, "/alice/cal/", "/alice/"+long+"/", false)
	check("CopyCollection", err)
	check("PutUser", db.PutUser(ctx, alice, User{Name: long}))
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/" + ok + "/", Kind: KindPlain, Owner: "alice"}); err != nil {
		t.Fatalf("a name of exactly the limit: %v", err)
	}
}

// TestPropsLimits: UpdateProps and UpdateObjectProps refuse a value, a
// count or a total over the limits, and CreateCollection refuses such
// initial properties.
func TestPropsLimits(t *testing.T) {
	t.Parallel()
	db, err := Open("db", &Options{FS: vfs.NewMem(), Clock: fakeClock(), Limits: Limits{MaxPropValue: 100, MaxDeadProps: 3, MaxPropsSize: 250}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	MustCalendar(t, db)
	want := func(what string, err error) {
		t.Helper()
		var pl *PropsLimitError
		if !errors.As(err, &pl) || pl.What != what {
			t.Errorf("err = %v, want a *PropsLimitError of %s", err, what)
		}
	}
	set := func(fn func(p *Props)) error {
		return db.UpdateProps(ctx, alice, "/alice/cal/", func(p *Props) error { fn(p); return nil })
	}
	want("value", set(func(p *Props) { p.DisplayName = strings.Repeat("x", 101) }))
	want("value", set(func(p *Props) { p.Dead = map[string]string{"{u}a": strings.Repeat("x", 101)} }))
	want("count", set(func(p *Props) { p.Dead = map[string]string{"{u}a": "", "{u}b": "", "{u}c": "", "{u}d": ""} }))
	want("size", set(func(p *Props) {
		p.DisplayName, p.Description, p.Timezone = strings.Repeat("x", 90), strings.Repeat("x", 90), strings.Repeat("x", 90)
	}))
	if err := set(func(p *Props) { p.DisplayName = strings.Repeat("x", 100) }); err != nil {
		t.Fatalf("a value of exactly the limit: %v", err)
	}
	_, err = db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/big/", Kind: KindCalendar, Owner: "alice",
		Props: Props{Dead: map[string]string{"{u}a": strings.Repeat("x", 101)}}})
	want("value", err)
	ev := []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	if _, err := db.PutObject(ctx, alice, "/alice/cal/", "a.ics", ev, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	err = db.UpdateObjectProps(ctx, alice, "/alice/cal/", "a.ics", func(d map[string]string) error {
		for _, k := range []string{"a", "b", "c", "d"} {
			d["{u}"+k] = "v"
		}
		return nil
	})
	want("count", err)
}

// TestPropsLimitsShrink: properties stored under larger limits stay
// readable and may be removed one by one, but not grown.
func TestPropsLimitsShrink(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	MustCalendar(t, db)
	if err := db.UpdateProps(ctx, alice, "/alice/cal/", func(p *Props) error {
		p.Dead = map[string]string{"{u}a": "1", "{u}b": "2", "{u}c": "3", "{u}d": "4", "{u}e": "5"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open("db", &Options{FS: fs, Clock: fakeClock(), Limits: Limits{MaxDeadProps: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.UpdateProps(ctx, alice, "/alice/cal/", func(p *Props) error { delete(p.Dead, "{u}a"); return nil }); err != nil {
		t.Fatalf("removing one of too many: %v", err)
	}
	err = db.UpdateProps(ctx, alice, "/alice/cal/", func(p *Props) error { p.Dead["{u}z"] = "9"; return nil })
	var pl *PropsLimitError
	if !errors.As(err, &pl) {
		t.Fatalf("adding to too many: err = %v", err)
	}
}

// FuzzCheckNames cross-checks Limits.checkNames against a naive reading of
// the limits: no segment of dir, nor name, longer than MaxNameLength, and
// dir+name no longer than MaxPathLength.
func FuzzCheckNames(f *testing.F) {
	f.Add("/dav/home/alice/calendar/", "a.ics", 8, 40)
	f.Add("/a//b/", "", 1, 5)
	f.Add("/"+strings.Repeat("x", 300)+"/", "y", 255, 1024)
	f.Fuzz(func(t *testing.T, dir, name string, maxName, maxPath int) {
		if maxName <= 0 || maxPath <= 0 || maxName > 1<<20 || maxPath > 1<<20 {
			return
		}
		l := Limits{MaxNameLength: maxName, MaxPathLength: maxPath}
		want := len(dir)+len(name) <= maxPath && len(name) <= maxName
		for _, seg := range strings.Split(dir, "/") {
			if len(seg) > maxName {
				want = false
			}
		}
		err := l.checkNames(dir, name)
		if (err == nil) != want {
			t.Fatalf("checkNames(%q, %q) with %d/%d = %v, want ok=%v", dir, name, maxName, maxPath, err, want)
		}
		var tl *NameTooLongError
		if err != nil && (!errors.As(err, &tl) || !errors.Is(err, ErrInvalidName)) {
			t.Fatalf("checkNames error %v is not a *NameTooLongError", err)
		}
	})
}

package engine

import (
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestIMIPOwnerIndex: an email queued or given up on is an event of the
// user it is sent for: their ReadableLog and Readable (the feed's
// Subscribe, GetEvent and History) show it, another user's do not, an
// email sent for no user is in no one's; a rebuild derives the same.
func TestIMIPOwnerIndex(t *testing.T) {
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	msg := func(user string) *IMIP {
		return &IMIP{Method: "REQUEST", Originator: "mailto:" + user + "@x.test", Recipient: "mailto:ext@mail.test", User: user, UID: "m1",
			Calendar: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")}
	}
	queue := func(m *IMIP) Seq {
		t.Helper()
		if _, err := db.WriteScheduled(ctx, []ScheduledWrite{{Meta: Meta{Actor: "x"}, IMIP: m}}); err != nil {
			t.Fatal(err)
		}
		return db.Head()
	}
	queued := queue(msg("alice"))
	must(t, db.IMIPFailed(ctx, Meta{Actor: "imip"}, queued, msg("alice"), "550 no such user"))
	failed := db.Head()
	forBob := queue(msg("bob"))
	noOne := queue(msg(""))
	check := func(when string) {
		t.Helper()
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		for user, want := range map[string][]Seq{"alice": {queued, failed}, "bob": {forBob}, "carol": nil} {
			var got []Seq
			for ev, err := range v.ReadableLog(user, 1) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ev.Seq)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s reads %v, want %v", when, user, got, want)
			}
			readable, err := v.Readable(user)
			if err != nil {
				t.Fatal(err)
			}
			for _, seq := range []Seq{queued, failed, forBob, noOne} {
				if ok, err := readable(seq); err != nil || ok != slices.Contains(want, seq) {
					t.Errorf("%s: Readable(%s)(%d) = %v, %v", when, user, seq, ok, err)
				}
			}
		}
	}
	check("live")
	db = reopenStale(t, db, fs)
	check("rebuilt")
}

package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// MustOpen opens a database on an in-memory filesystem with a fixed clock
// that advances one second per call.
func MustOpen(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open("db", &Options{FS: vfs.NewMem(), Clock: fakeClock()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// reopenStale closes db, on fs, recording that its projections come from
// another layout version, and opens it again: Open rebuilds them.
func reopenStale(tb testing.TB, db *DB, fs vfs.FS) *DB {
	tb.Helper()
	if err := db.pdb.Set(keys.MetaKey(metaProjections), []byte("stale"), pebble.Sync); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

func fakeClock() func() time.Time {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

var ctx = context.Background()

var zeroTime time.Time

var alice = Meta{Actor: "alice", UserAgent: "test/1.0", RequestID: "r1"}

// MustCalendar creates /alice/ and the calendar /alice/cal/.
func MustCalendar(tb testing.TB, db *DB) *Collection {
	tb.Helper()
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/", Kind: KindHome, Owner: "alice"}); err != nil {
		tb.Fatal(err)
	}
	c, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/cal/", Kind: KindCalendar, Owner: "alice"})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// event returns a small VEVENT with the given UID.
func event(uid string) []byte {
	return []byte(fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Meeting %s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", uid, uid))
}

// twoEvents returns a calendar with two VEVENTs.
func twoEvents(uid1, uid2 string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
		"BEGIN:VEVENT\r\nUID:" + uid1 + "\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:" + uid2 + "\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260106T100000Z\r\nEND:VEVENT\r\n" +
		"END:VCALENDAR\r\n")
}

// journal returns a VJOURNAL, which the default component set rejects.
func journal(uid string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VJOURNAL\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n")
}

package engine

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestInboxToken: Thunderbird presents one sync token to a calendar and
// to the schedule inbox it polls. A calendar reads its owner's inbox
// token as a point in the log and lists its changes after it; the inbox
// reads the calendar's token likewise and answers with the same token;
// any other collection's token stays refused.
func TestInboxToken(t *testing.T) {
	db := MustOpen(t)
	mustCreate(t, db,
		CollectionSpec{Path: "/alice/", Kind: KindHome, Owner: "alice"},
		CollectionSpec{Path: "/alice/cal/", Kind: KindCalendar, Owner: "alice"},
		CollectionSpec{Path: "/alice/inbox/", Kind: KindInbox, Owner: "alice"},
		CollectionSpec{Path: "/alice/contacts/", Kind: KindAddressBook, Owner: "alice"},
		CollectionSpec{Path: "/bob/", Kind: KindHome, Owner: "bob"},
		CollectionSpec{Path: "/bob/inbox/", Kind: KindInbox, Owner: "bob"},
	)
	put := func(path, name string) {
		t.Helper()
		method := ""
		if path != "/alice/cal/" {
			method = "METHOD:REQUEST\r\n"
		}
		body := fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n%sBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", method, path+name)
		if _, err := db.PutObject(ctx, alice, path, name, []byte(body), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(cs *ChangeSet) []string {
		var out []string
		for _, c := range cs.Changes {
			out = append(out, c.Name)
		}
		return out
	}
	put("/alice/inbox/", "m1.ics")
	put("/alice/cal/", "a.ics")
	calTok := changesFrom(t, db, "/alice/cal/", "").Token
	put("/alice/inbox/", "m2.ics")
	put("/alice/cal/", "b.ics")

	// The inbox lists what came after the calendar's token, and gives it back.
	got := changesFrom(t, db, "/alice/inbox/", calTok)
	if fmt.Sprint(names(got)) != "[m2.ics]" || got.Token != calTok {
		t.Fatalf("inbox from the calendar's token: %v, token kept %v", names(got), got.Token == calTok)
	}
	// The calendar lists what came after the inbox's token.
	put("/alice/inbox/", "m3.ics")
	inboxTok := changesFrom(t, db, "/alice/inbox/", "").Token
	put("/alice/cal/", "c.ics")
	if got := changesFrom(t, db, "/alice/cal/", inboxTok); fmt.Sprint(names(got)) != "[c.ics]" {
		t.Fatalf("calendar from the inbox's token: %v", names(got))
	}
	// The calendar's own token still moves with it.
	if got := changesFrom(t, db, "/alice/cal/", calTok); fmt.Sprint(names(got)) != "[b.ics c.ics]" {
		t.Fatalf("calendar from its own token: %v", names(got))
	}
	// A compaction moved the inbox's horizon past the calendar's token:
	// the inbox lists its live members in full rather than refusing it.
	if err := db.DeleteObject(ctx, alice, "/alice/inbox/", "m1.ics", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CompactLog(ctx, alice, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if got := changesFrom(t, db, "/alice/inbox/", calTok); fmt.Sprint(names(got)) != "[m2.ics m3.ics]" || got.Token != calTok {
		t.Fatalf("inbox past its horizon: %v, token kept %v", names(got), got.Token == calTok)
	}
	// Not a sibling: the address book, another user's inbox.
	for _, path := range []string{"/alice/contacts/", "/bob/inbox/"} {
		if _, err := db.Changes(path, calTok, 0); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s with alice's calendar token: %v, want ErrInvalidToken", path, err)
		}
	}
}

func changesFrom(t *testing.T, db *DB, path, token string) *ChangeSet {
	t.Helper()
	cs, err := db.Changes(path, token, 0)
	if err != nil {
		t.Fatalf("changes %s: %v", path, err)
	}
	return cs
}

// mustCreate creates the collections as alice.
func mustCreate(tb testing.TB, db *DB, specs ...CollectionSpec) {
	tb.Helper()
	for _, spec := range specs {
		if _, err := db.CreateCollection(ctx, alice, spec); err != nil {
			tb.Fatal(err)
		}
	}
}

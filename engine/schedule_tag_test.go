package engine

import (
	"errors"
	"strings"
	"testing"
)

// meeting returns an event of alice's with bob invited: a scheduling
// object resource. partstat is bob's PARTSTAT.
func meeting(uid, partstat string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:Meeting\r\n" +
		"organizer;CN=Alice:mailto:alice@x.test\r\nATTENDEE;PARTSTAT=" + partstat + ":mailto:bob@x.test\r\n" +
		"END:VEVENT\r\nEND:VCALENDAR\r\n")
}

// TestScheduleTag: a scheduling object gets a schedule tag (RFC 6638
// §3.2.10) with its ETag, an object without ORGANIZER none (a text value
// that names ORGANIZER does not count); the server's merge of a REPLY
// keeps the tag while the ETag moves, any other write changes it;
// If-Schedule-Tag-Match fails a stale tag and a non-scheduling object,
// for puts and deletes; listings and a rebuild of the projections give
// the same tags.
func TestScheduleTag(t *testing.T) {
	db := MustOpen(t)
	const cal = "/dav/home/alice/calendar/"
	for _, spec := range []CollectionSpec{
		{Path: "/dav/home/alice/", Kind: KindHome, Owner: "alice"},
		{Path: cal, Kind: KindCalendar, Owner: "alice"},
	} {
		if _, err := db.CreateCollection(ctx, alice, spec); err != nil {
			t.Fatal(err)
		}
	}
	created, err := db.PutObject(ctx, alice, cal, "m.ics", meeting("m", "NEEDS-ACTION"), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.ScheduleTag != created.ETag {
		t.Fatalf("new scheduling object: schedule tag %q, want its ETag %q", created.ScheduleTag, created.ETag)
	}
	plain := strings.Replace(string(event("p")), "SUMMARY:Meeting p", "DESCRIPTION:an\r\n ORGANIZER:mailto:x@x.test", 1)
	res, err := db.PutObject(ctx, alice, cal, "p.ics", []byte(plain), PutOptions{})
	if err != nil || res.ScheduleTag != "" {
		t.Fatalf("object without ORGANIZER: %+v, %v; want no schedule tag", res, err)
	}
	reply := &Schedule{Method: "REPLY", Originator: "mailto:bob@x.test", Recipient: "mailto:alice@x.test", RecipientUser: "alice", Status: "1.2"}
	merged, err := db.WriteScheduled(ctx, []ScheduledWrite{{Path: cal, Name: "m.ics", Body: meeting("m", "ACCEPTED"),
		IfScheduleTagMatch: created.ScheduleTag, Meta: alice, Schedule: reply}})
	if err != nil {
		t.Fatal(err)
	}
	if merged[0].ETag == created.ETag || merged[0].ScheduleTag != created.ScheduleTag {
		t.Fatalf("REPLY merged: %+v; want a new ETag and the schedule tag %q", merged[0], created.ScheduleTag)
	}
	// The organizer's client still holds the first version: its tag
	// matches although the ETag moved.
	var em *ETagMismatchError
	if _, err := db.PutObject(ctx, alice, cal, "m.ics", meeting("m", "ACCEPTED"), PutOptions{IfScheduleTagMatch: `"stale"`}); !errors.As(err, &em) {
		t.Fatalf("a stale schedule tag: %v, want ETagMismatchError", err)
	}
	if _, err := db.PutObject(ctx, alice, cal, "p.ics", []byte(plain), PutOptions{IfScheduleTagMatch: res.ETag}); !errors.As(err, &em) {
		t.Fatalf("If-Schedule-Tag-Match on an object without ORGANIZER: %v, want ETagMismatchError", err)
	}
	edited, err := db.PutObject(ctx, alice, cal, "m.ics", meeting("m", "ACCEPTED"), PutOptions{IfScheduleTagMatch: created.ScheduleTag})
	if err != nil {
		t.Fatal(err)
	}
	if edited.ScheduleTag != edited.ETag || edited.ScheduleTag == created.ScheduleTag {
		t.Fatalf("the organizer's own write: %+v; want a new schedule tag, its ETag", edited)
	}
	check := func(when string) {
		t.Helper()
		o, err := db.Object(cal, "m.ics", false)
		if err != nil || o.ScheduleTag != edited.ScheduleTag {
			t.Fatalf("%s: schedule tag %v, %v; want %q", when, o, err, edited.ScheduleTag)
		}
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		for o, err := range v.Objects(cal, ListOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"m.ics": edited.ScheduleTag, "p.ics": ""}[o.Name]; o.ScheduleTag != want {
				t.Errorf("%s: listed %s with schedule tag %q, want %q", when, o.Name, o.ScheduleTag, want)
			}
		}
	}
	check("after the writes")
	if err := db.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	check("after a rebuild")
	if _, err := db.WriteScheduled(ctx, []ScheduledWrite{{Path: cal, Name: "m.ics", IfScheduleTagMatch: created.ScheduleTag, Meta: alice}}); !errors.As(err, &em) {
		t.Fatalf("a delete with a stale schedule tag: %v, want ETagMismatchError", err)
	}
	if _, err := db.WriteScheduled(ctx, []ScheduledWrite{{Path: cal, Name: "m.ics", IfScheduleTagMatch: edited.ScheduleTag, Meta: alice}}); err != nil {
		t.Fatalf("a delete with the current schedule tag: %v", err)
	}
}

package itip

import (
	"testing"
)

func TestRoleOf(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cal       string
		addresses []string
		role      Role
		as        string
	}{
		{"Organizer", meeting(), []string{"urn:uuid:x", "MAILTO:olga@EXAMPLE.org"}, RoleOrganizer, "mailto:olga@example.org"},
		{"Attendee", meeting(), []string{"mailto:Carol@EXAMPLE.org"}, RoleAttendee, carol},
		{"LocalPartCase", meeting(), []string{"mailto:carol@example.org"}, RoleNone, ""},
		{"Neither", meeting(), []string{"mailto:eve@example.org"}, RoleNone, ""},
		{"NoOrganizer", meeting("ORGANIZER;CN=Olga:mailto:olga@example.org\n", ""), []string{bob}, RoleNone, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			role, as, err := RoleOf(mustParse(t, tc.cal), tc.addresses)
			if err != nil || role != tc.role || as != tc.as {
				t.Fatalf("RoleOf = %v, %q, %v; want %v, %q", role, as, err, tc.role, tc.as)
			}
		})
	}
	if _, _, err := RoleOf(mustParse(t, meeting("ORGANIZER;CN=Olga:mailto:olga@example.org", "ORGANIZER:")), nil); err == nil {
		t.Fatal("an empty ORGANIZER: no error")
	}
}

func TestAttendees(t *testing.T) {
	got, err := Attendees(mustParse(t, meeting("SUMMARY:Plan", "SUMMARY:Plan\nATTENDEE:MAILTO:BOB@example.ORG")))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"mailto:BOB@example.org", "mailto:olga@example.org", bob, carol} // document order
	if len(got) != len(want) {
		t.Fatalf("Attendees = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Attendees = %q, want %q", got, want)
		}
	}
}

func TestForStorage(t *testing.T) {
	old := mustParse(t, meeting(";RSVP=TRUE:mailto:bob", ";SCHEDULE-STATUS=1.2:mailto:bob"))
	sent := mustParse(t, meeting(";RSVP=TRUE:mailto:bob", ";SCHEDULE-STATUS=5.3;SCHEDULE-FORCE-SEND=REQUEST:mailto:bob",
		"PARTSTAT=NEEDS-ACTION:MAILTO:Carol", "PARTSTAT=NEEDS-ACTION;SCHEDULE-STATUS=2.0:MAILTO:Carol"))
	before := canon(sent)
	got := ForStorage(old, sent)
	sameCal(t, "stored", got, mustParse(t, meeting(";RSVP=TRUE:mailto:bob", ";SCHEDULE-STATUS=1.2:mailto:bob")))
	if canon(sent) != before {
		t.Fatal("ForStorage modified its argument")
	}
}

func TestWithScheduleStatus(t *testing.T) {
	cal := mustParse(t, meeting())
	got := WithScheduleStatus(cal, map[string]string{bob: "1.2", carol: "3.7"})
	sameCal(t, "statuses", got, mustParse(t, meeting(";RSVP=TRUE:mailto:bob", ";RSVP=TRUE;SCHEDULE-STATUS=1.2:mailto:bob",
		"PARTSTAT=NEEDS-ACTION:MAILTO:Carol", "PARTSTAT=NEEDS-ACTION;SCHEDULE-STATUS=3.7:MAILTO:Carol")))
	sameCal(t, "argument", cal, mustParse(t, meeting()))
}

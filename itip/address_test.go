package itip

import (
	"errors"
	"testing"
)

func TestNormalizeAddress(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"mailto:alice@example.org", "mailto:alice@example.org"},
		{"MAILTO:alice@Example.ORG", "mailto:alice@example.org"},
		{" mailto:Alice@EXAMPLE.org ", "mailto:Alice@example.org"},
		{"urn:uuid:0F1E-AB", "urn:uuid:0f1e-ab"},
		{"HTTPS://host/dav/principals/Bob/", "https://host/dav/principals/Bob/"},
		{"alice", "alice"},
	} {
		if got := NormalizeAddress(tc.in); got != tc.want {
			t.Errorf("NormalizeAddress(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPreconditionErrorIs(t *testing.T) {
	err := precondition(ErrSameOrganizer, "VEVENT %d", 2)
	if !errors.Is(err, ErrSameOrganizer) || errors.Is(err, ErrValidOrganizer) {
		t.Fatalf("errors.Is of %v: wrong condition", err)
	}
	if got, want := err.Error(), "itip: same-organizer-in-all-components: VEVENT 2"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestWriteMapped checks that the audit and admin APIs answer errors with
// the DAV handler's mapping (a UID conflict is 403 no-uid-conflict there
// too, not 409), and hide an internal error's details from a user.
func TestWriteMapped(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		reveal   bool
		status   int
		cond     string
		wantText string // "" for any
	}{
		{"UIDConflict", fmt.Errorf("restore: %w", &engine.UIDConflictError{UID: "u", Href: "/dav/home/a/c/x.ics"}), true, 403, "no-uid-conflict", ""},
		{"NotFound", fmt.Errorf("history: %w", engine.ErrNotFound), false, 404, "", ""},
		{"Compacted", fmt.Errorf("export: %w", engine.ErrCompacted), false, 409, "", ""},
		{"NoSpace", fmt.Errorf("import: %w", engine.ErrNoSpace), true, 507, "sufficient-disk-space", ""},
		{"BadRequest", badRequest(errors.New("bad json")), false, 400, "", ""},
		{"NoRoute", errNoRoute, false, 404, "", ""},
		{"Forbidden", forbiddenError{errors.New("outside --backup-dir")}, true, 403, "", "outside --backup-dir"},
		{"InternalUser", errors.New("pebble: secret detail"), false, 500, "", "internal error; see the server log"},
		{"InternalAdmin", errors.New("pebble: secret detail"), true, 500, "", "pebble: secret detail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeMapped(rec, httptest.NewRequest("GET", "/admin/history", nil), nil, tt.err, tt.reveal)
			var body struct{ Error, Condition string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if rec.Code != tt.status || body.Condition != tt.cond {
				t.Errorf("got %d %q, want %d %q", rec.Code, body.Condition, tt.status, tt.cond)
			}
			if tt.wantText != "" && body.Error != tt.wantText {
				t.Errorf("error text %q, want %q", body.Error, tt.wantText)
			}
		})
	}
}

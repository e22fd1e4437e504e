package dav

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
)

// TestMapError checks the one mapping from errors to statuses and
// conditions, for every error the engine declares (wrapped, as the engine
// and the handlers return them).
func TestMapError(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("put /dav/home/a/c/x.ics: %w", err) }
	tests := []struct {
		name   string
		err    error
		kind   engine.Kind
		status int
		cond   string // Space + " " + Local, "" for none
	}{
		{"ErrNotFound", wrap(engine.ErrNotFound), 0, 404, ""},
		{"ErrExists", wrap(engine.ErrExists), 0, 412, ""},
		{"ErrAddressTaken", wrap(engine.ErrAddressTaken), 0, 409, ""},
		{"ErrClosed", wrap(engine.ErrClosed), 0, 503, ""},
		{"ErrUnavailable", wrap(engine.ErrUnavailable), 0, 503, ""},
		{"LogConflictError", wrap(&engine.LogConflictError{Head: 7}), 0, 503, ""},
		{"ErrDiverged", wrap(engine.ErrDiverged), 0, 503, ""},
		{"ReplicaAheadError", wrap(&engine.ReplicaAheadError{Replica: 9, Log: 7}), 0, 503, ""},
		{"ErrTokenExpired", wrap(engine.ErrTokenExpired), 0, 403, "DAV: valid-sync-token"},
		{"ErrInvalidToken", wrap(engine.ErrInvalidToken), 0, 403, "DAV: valid-sync-token"},
		{"ErrConflict", wrap(engine.ErrConflict), 0, 409, ""},
		{"ErrInvalidName", wrap(engine.ErrInvalidName), 0, 400, ""},
		{"ErrNoSpace", wrap(engine.ErrNoSpace), 0, 507, "DAV: sufficient-disk-space"},
		{"ErrCompacted", wrap(engine.ErrCompacted), 0, 409, ""},
		{"ErrRescheduleDone", wrap(engine.ErrRescheduleDone), 0, 409, ""},
		{"ErrBackupBusy", wrap(engine.ErrBackupBusy), 0, 409, ""},
		{"ErrNotReplica", wrap(engine.ErrNotReplica), 0, 409, ""},
		{"NameTooLongError", wrap(&engine.NameTooLongError{Name: "x", Len: 300, Limit: 255}), 0, 414, ""},
		{"PropsLimitError", wrap(&engine.PropsLimitError{What: "count", Got: 300, Limit: 256}), 0, 507, ""},
		{"SharingLimitError", wrap(&engine.SharingLimitError{What: "grants on /dav/home/a/c/", Limit: 256}), 0, 403, ""},
		{"PushLimitError", wrap(&engine.PushLimitError{What: "push registrations of a", Limit: 1000}), 0, 403, "https://bitfire.at/webdav-push push-not-available"},
		{"ETagMismatchError", wrap(&engine.ETagMismatchError{Want: `"a"`, Got: `"b"`}), 0, 412, ""},
		{"UIDConflictError", wrap(&engine.UIDConflictError{UID: "u", Href: "/dav/home/a/c/y.ics"}), engine.KindCalendar, 403, davxml.NSCalDAV + " no-uid-conflict"},
		{"UIDConflictError/carddav", wrap(&engine.UIDConflictError{UID: "u", Href: "/dav/home/a/b/y.vcf"}), engine.KindAddressBook, 403, davxml.NSCardDAV + " no-uid-conflict"},
		{"UIDConflictError/admin", wrap(&engine.UIDConflictError{UID: "u", Href: "/dav/home/a/c/y.ics"}), 0, 403, davxml.NSCalDAV + " no-uid-conflict"},
		{"InvalidDataError", wrap(&engine.InvalidDataError{Cond: engine.CondValidCalendarData, Msg: "m"}), engine.KindCalendar, 403, davxml.NSCalDAV + " valid-calendar-data"},
		{"InvalidDataError/address", wrap(&engine.InvalidDataError{Cond: engine.CondValidAddressData, Msg: "m"}), 0, 403, davxml.NSCardDAV + " valid-address-data"},
		{"InvalidDataError/size-carddav", wrap(&engine.InvalidDataError{Cond: engine.CondMaxResourceSize, Msg: "m"}), engine.KindAddressBook, 403, davxml.NSCardDAV + " max-resource-size"},
		{"InvalidDataError/size-plain", wrap(&engine.InvalidDataError{Cond: engine.CondMaxResourceSize, Msg: "m"}), engine.KindPlain, 413, ""},
		{"query.Error", wrap(&query.Error{Status: 403, Space: davxml.NSCalDAV, Cond: "valid-filter", Msg: "m"}), 0, 403, davxml.NSCalDAV + " valid-filter"},
		{"query.Error/plain", wrap(&query.Error{Status: 400, Msg: "m"}), 0, 400, ""},
		{"MaxBytesError", wrap(&http.MaxBytesError{Limit: 10}), 0, 413, ""},
		{"ErrDTD", wrap(davxml.ErrDTD), 0, 400, ""},
		{"PreconditionError", wrap(errValidSyncToken("x")), 0, 403, "DAV: valid-sync-token"},
		{"Canceled", wrap(context.Canceled), 0, StatusClientClosedRequest, ""},
		{"auth.BusyError", wrap(&auth.BusyError{Slots: 2, Wait: 5 * time.Second}), 0, 503, ""}, // every hashing slot busy: a bound, not a failed login
		{"VerifyError", wrap(&engine.VerifyError{Key: []byte("k")}), 0, 500, ""},               // corruption: internal, logged
		{"ErrCorrupt", wrap(engine.ErrCorrupt), 0, 500, ""},                                    // a damaged block: internal, logged with its key range
		{"CorruptionError", wrap(&engine.CorruptionError{}), 0, 500, ""},
		{"other", errors.New("disk on fire"), 0, 500, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pe := MapError(tt.err, tt.kind)
			cond := ""
			if pe.Cond.Local != "" {
				cond = pe.Cond.Space + " " + pe.Cond.Local
			}
			if pe.Status != tt.status || cond != tt.cond {
				t.Errorf("MapError(%v) = %d %q, want %d %q", tt.err, pe.Status, cond, tt.status, tt.cond)
			}
			if got, want := pe.IsInternal(), tt.status == 500; got != want {
				t.Errorf("IsInternal = %v, want %v", got, want)
			}
		})
	}
	if MapError(nil, 0) != nil {
		t.Errorf("MapError(nil) is not nil")
	}

	// Every error the engine package declares is in the table, so a new
	// one cannot fall through to 500 unnoticed.
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[strings.SplitN(tt.name, "/", 2)[0]] = true
	}
	for _, name := range engineErrors(t) {
		if !covered[name] {
			t.Errorf("engine.%s has no case in TestMapError", name)
		}
	}
}

// engineErrors lists the exported error sentinels (Err*) and error types
// (*Error) declared in package engine's non-test files.
func engineErrors(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../engine/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				switch s := spec.(type) {
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if strings.HasPrefix(n.Name, "Err") && n.IsExported() {
							names = append(names, n.Name)
						}
					}
				case *ast.TypeSpec:
					if strings.HasSuffix(s.Name.Name, "Error") && s.Name.IsExported() {
						names = append(names, s.Name.Name)
					}
				}
			}
		}
	}
	if len(names) < 10 {
		t.Fatalf("found only %v in package engine", names)
	}
	return names
}

// TestWriteErrorCanceled checks that a client that went away is not logged
// as an internal error.
func TestWriteErrorCanceled(t *testing.T) {
	var logged strings.Builder
	h := &Handler{log: newTestLogger(&logged)}
	rec := httptest.NewRecorder()
	h.writeError(&statusRecorder{ResponseWriter: rec}, httptest.NewRequest("PUT", "/dav/home/a/c/x.ics", nil), fmt.Errorf("read body: %w", context.Canceled))
	if strings.Contains(logged.String(), "internal error") {
		t.Errorf("canceled request logged as internal error: %s", logged.String())
	}
	if rec.Code != StatusClientClosedRequest {
		t.Errorf("status %d, want %d", rec.Code, StatusClientClosedRequest)
	}
	logged.Reset()
	h.writeError(&statusRecorder{ResponseWriter: httptest.NewRecorder()}, httptest.NewRequest("PUT", "/dav/home/a/c/x.ics", nil), errors.New("boom"))
	if !strings.Contains(logged.String(), "internal error") {
		t.Errorf("internal error not logged: %q", logged.String())
	}
}

// newTestLogger logs at every level, as text, to w.
func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestUnavailableRetryAfter: a write a cluster's log cannot take (no
// quorum) gets 503 with Retry-After, so that clients come back.
func TestUnavailableRetryAfter(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPut, "/dav/home/a/c/x.ics", nil)
	writePrecondition(rec, req, MapError(fmt.Errorf("put: %w", engine.ErrUnavailable), 0))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("%d, Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestMapKindKeepsUnknownErrors: a handler that maps an error by its
// collection's kind hands an unknown one back as it is, so writeError
// logs what went wrong (a mapped 500 would log only "internal error").
func TestMapKindKeepsUnknownErrors(t *testing.T) {
	cause := errors.New("disk on fire")
	if err := mapKind(cause, engine.KindCalendar); err != cause {
		t.Errorf("mapKind(unknown) = %v, want the error itself", err)
	}
	var pe *PreconditionError
	if err := mapKind(engine.ErrNotFound, engine.KindCalendar); !errors.As(err, &pe) || pe.Status != http.StatusNotFound {
		t.Errorf("mapKind(ErrNotFound) = %v, want a 404", err)
	}
}

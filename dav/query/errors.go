package query

import (
	"fmt"
	"net/http"
)

// XML namespaces of the conditions in Error.
const (
	NSDAV     = "DAV:"
	NSCalDAV  = "urn:ietf:params:xml:ns:caldav"
	NSCardDAV = "urn:ietf:params:xml:ns:carddav"
)

// Error is a rejected query: the HTTP status, the precondition element
// (namespace and local name; empty for none) and a readable message.
type Error struct {
	Status int
	Space  string
	Cond   string
	Msg    string
}

func (e *Error) Error() string {
	if e.Cond == "" {
		return "query: " + e.Msg
	}
	return fmt.Sprintf("query: %s: %s", e.Cond, e.Msg)
}

func errorf(status int, space, cond, format string, args ...any) *Error {
	return &Error{Status: status, Space: space, Cond: cond, Msg: fmt.Sprintf(format, args...)}
}

// Constructors for the conditions of RFC 4791 §7.8, §9.7, RFC 6352 §8.6
// and RFC 7809 §5.
func errValidFilter(format string, args ...any) *Error {
	return errorf(http.StatusForbidden, NSCalDAV, "valid-filter", format, args...)
}

func errCardValidFilter(format string, args ...any) *Error {
	return errorf(http.StatusForbidden, NSCardDAV, "valid-filter", format, args...)
}

func errSupportedCollation(space, name string) *Error {
	return errorf(http.StatusForbidden, space, "supported-collation", "collation %q is not supported", name)
}

func errBadRequest(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "", "", format, args...)
}

// errMaxInstances reports an expansion over the configured limits.
func errMaxInstances(format string, args ...any) *Error {
	return errorf(http.StatusForbidden, NSCalDAV, "max-instances", format, args...)
}

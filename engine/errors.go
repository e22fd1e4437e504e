package engine

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrNotFound: the collection or object does not exist.
	ErrNotFound = errors.New("engine: not found")
	// ErrExists: the target exists and the request demanded it did not
	// (MKCOL or MKCALENDAR over an existing path, a MOVE or COPY with
	// Overwrite: F onto an existing object or collection). A PUT with
	// If-None-Match: * onto an existing object is an *ETagMismatchError
	// (412), not ErrExists.
	ErrExists = errors.New("engine: already exists")
	// ErrClosed: the database was closed.
	ErrClosed = errors.New("engine: closed")
	// ErrTokenExpired: the sync token is older than the collection's
	// tombstone horizon; the client must do a full sync (DAV:valid-sync-token).
	ErrTokenExpired = errors.New("engine: sync token expired")
	// ErrInvalidToken: the sync token is malformed or belongs to another
	// collection or store (DAV:valid-sync-token).
	ErrInvalidToken = errors.New("engine: invalid sync token")
	// ErrConflict: the request does not fit the state: a parent that is not
	// a collection, a collection that may not contain collections, a name
	// taken by an object of another type.
	ErrConflict = errors.New("engine: conflict")
	// ErrInvalidName: an object or collection name that cannot be stored
	// (empty, ".", "..", or holding "/" or a NUL byte).
	ErrInvalidName = errors.New("engine: invalid name")
	// ErrNoSpace: a write failed because the file system is full or the
	// user's disk quota is exhausted (ENOSPC, EDQUOT). Nothing was
	// written; reads still work, and writes succeed again once space
	// returns (DAV:sufficient-disk-space, RFC 4331 §6).
	ErrNoSpace = errors.New("engine: no space left on device")
)

// ETagMismatchError is returned when If-Match or If-None-Match: * fails;
// Want is "none" for If-None-Match: *.
type ETagMismatchError struct {
	Want string // the ETag the request demanded ("*" for any, "none" for If-None-Match: *)
	Got  string // the current ETag ("" when the object does not exist)
}

func (e *ETagMismatchError) Error() string {
	return fmt.Sprintf("engine: etag mismatch: want %s, have %q", e.Want, e.Got)
}

// UIDConflictError is returned when a UID is already used by another object
// of the collection (CALDAV:no-uid-conflict, CARDDAV:no-uid-conflict).
type UIDConflictError struct {
	UID  string
	Href string // path of the object that holds the UID
}

func (e *UIDConflictError) Error() string {
	return fmt.Sprintf("engine: uid %q already used by %s", e.UID, e.Href)
}

// Condition names the RFC precondition an InvalidDataError violates.
type Condition string

// Preconditions the engine checks on write (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1).
const (
	CondValidCalendarData           Condition = "valid-calendar-data"
	CondValidCalendarObjectResource Condition = "valid-calendar-object-resource"
	CondSupportedCalendarComponent  Condition = "supported-calendar-component"
	CondSupportedCalendarData       Condition = "supported-calendar-data"
	CondValidAddressData            Condition = "valid-address-data"
	CondSupportedAddressData        Condition = "supported-address-data"
	CondMaxResourceSize             Condition = "max-resource-size"
)

// InvalidDataError is returned when an object fails validation. Cond says
// which precondition failed; the message is readable by a person.
type InvalidDataError struct {
	Cond Condition
	Msg  string
}

func (e *InvalidDataError) Error() string {
	return fmt.Sprintf("engine: %s: %s", e.Cond, e.Msg)
}

func invalid(cond Condition, format string, args ...any) error {
	return &InvalidDataError{Cond: cond, Msg: fmt.Sprintf(format, args...)}
}

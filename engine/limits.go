package engine

import (
	"errors"
	"fmt"
	"strings"
)

// Limits bound what one command may store: names, and the properties of a
// collection or an object. Every write API checks them (PutObject,
// MoveObject, CreateCollection, MoveCollection, CopyCollection,
// UpdateProps, UpdateObjectProps), so no entry point (DAV, import, the
// admin API) bypasses them; the replay of the log does not, so a log
// written under larger limits still rebuilds. The zero value of each
// field means its default.
type Limits struct {
	// MaxNameLength is the longest path segment or object name, in bytes.
	// Default 255. NATS subjects, file systems (export to vdir folders)
	// and clients all have bounds of this order.
	MaxNameLength int
	// MaxPathLength is the longest collection path plus object name, in
	// bytes ("/dav/home/alice/calendar/x.ics" is 29). Default 1024.
	MaxPathLength int
	// MaxPropValue is the largest single property value, in bytes: a
	// dead property's XML, or DAV:displayname, a description, a color,
	// CALDAV:calendar-timezone. Default 64 KiB.
	MaxPropValue int
	// MaxDeadProps is the most dead properties one collection or object
	// may have. Default 256.
	MaxDeadProps int
	// MaxPropsSize is the largest total of a collection's or an object's
	// property names and values, in bytes. Every write to a collection
	// decodes and re-encodes its record, properties included, so this
	// bounds the work of every PUT. Default 1 MiB.
	MaxPropsSize int
}

// Defaults of Limits.
const (
	DefaultMaxNameLength = 255
	DefaultMaxPathLength = 1024
	DefaultMaxPropValue  = 64 << 10
	DefaultMaxDeadProps  = 256
	DefaultMaxPropsSize  = 1 << 20
)

// ensureDefaults fills in the zero fields.
func (l *Limits) ensureDefaults() {
	if l.MaxNameLength == 0 {
		l.MaxNameLength = DefaultMaxNameLength
	}
	if l.MaxPathLength == 0 {
		l.MaxPathLength = DefaultMaxPathLength
	}
	if l.MaxPropValue == 0 {
		l.MaxPropValue = DefaultMaxPropValue
	}
	if l.MaxDeadProps == 0 {
		l.MaxDeadProps = DefaultMaxDeadProps
	}
	if l.MaxPropsSize == 0 {
		l.MaxPropsSize = DefaultMaxPropsSize
	}
}

// validate reports negative fields.
func (l Limits) validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{
		{"MaxNameLength", l.MaxNameLength}, {"MaxPathLength", l.MaxPathLength},
		{"MaxPropValue", l.MaxPropValue}, {"MaxDeadProps", l.MaxDeadProps}, {"MaxPropsSize", l.MaxPropsSize},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("engine: Options.Limits.%s %d is negative", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// Limits returns the limits the DB enforces, defaults filled in.
func (db *DB) Limits() Limits { return db.opts.Limits }

// NameTooLongError is returned for a path segment, an object name or a
// whole path over Limits.MaxNameLength or Limits.MaxPathLength. It
// matches ErrInvalidName with errors.Is.
type NameTooLongError struct {
	Name  string // the segment, name or path, cut to 64 bytes
	Len   int    // its length in bytes
	Limit int
	Path  bool // the whole path is too long, not one segment
}

func (e *NameTooLongError) Error() string {
	what := "name"
	if e.Path {
		what = "path"
	}
	return fmt.Sprintf("engine: %s of %d bytes exceeds the limit of %d (%q...)", what, e.Len, e.Limit, e.Name)
}

// Is makes a NameTooLongError an ErrInvalidName.
func (e *NameTooLongError) Is(target error) bool { return target == ErrInvalidName }

func nameTooLong(s string, limit int, path bool) error {
	cut := s
	if len(cut) > 64 {
		cut = strings.ToValidUTF8(cut[:64], "")
	}
	return &NameTooLongError{Name: cut, Len: len(s), Limit: limit, Path: path}
}

// checkNames checks the lengths of collection path dir (every segment)
// and of the object name in it ("" for the collection itself).
func (l Limits) checkNames(dir, name string) error {
	if n := len(dir) + len(name); n > l.MaxPathLength {
		return nameTooLong(dir+name, l.MaxPathLength, true)
	}
	if len(name) > l.MaxNameLength {
		return nameTooLong(name, l.MaxNameLength, false)
	}
	for seg := range strings.SplitSeq(strings.Trim(dir, "/"), "/") {
		if len(seg) > l.MaxNameLength {
			return nameTooLong(seg, l.MaxNameLength, false)
		}
	}
	return nil
}

// PropsLimitError is returned when properties would exceed Limits: one
// value over MaxPropValue (Prop names it), more than MaxDeadProps dead
// properties, or more than MaxPropsSize bytes in all.
type PropsLimitError struct {
	Prop  string // the value over the limit: a dead property's "{namespace}local", or "displayname", "description", "color", "order", "timezone"; "" for a count or total
	What  string // "value", "count" or "size"
	Got   int
	Limit int
}

func (e *PropsLimitError) Error() string {
	switch e.What {
	case "value":
		return fmt.Sprintf("engine: property %s of %d bytes exceeds the limit of %d", e.Prop, e.Got, e.Limit)
	case "count":
		return fmt.Sprintf("engine: %d dead properties exceed the limit of %d", e.Got, e.Limit)
	}
	return fmt.Sprintf("engine: properties of %d bytes exceed the limit of %d", e.Got, e.Limit)
}

// CheckProps checks a collection's properties against l.
//
// Errors: *PropsLimitError.
func (l Limits) CheckProps(p Props) error {
	total := 0
	for _, v := range []struct{ key, val string }{
		{"displayname", p.DisplayName}, {"description", p.Description}, {"color", p.Color},
		{"order", p.Order}, {"timezone", p.Timezone},
	} {
		if len(v.val) > l.MaxPropValue {
			return &PropsLimitError{Prop: v.key, What: "value", Got: len(v.val), Limit: l.MaxPropValue}
		}
		total += len(v.val)
	}
	for _, c := range p.Components {
		total += len(c)
	}
	return l.checkDead(p.Dead, total)
}

// CheckDeadProps checks an object's dead properties against l.
//
// Errors: *PropsLimitError.
func (l Limits) CheckDeadProps(dead map[string]string) error { return l.checkDead(dead, 0) }

func (l Limits) checkDead(dead map[string]string, total int) error {
	if len(dead) > l.MaxDeadProps {
		return &PropsLimitError{What: "count", Got: len(dead), Limit: l.MaxDeadProps}
	}
	for k, v := range dead {
		if len(v) > l.MaxPropValue {
			return &PropsLimitError{Prop: k, What: "value", Got: len(v), Limit: l.MaxPropValue}
		}
		total += len(k) + len(v)
	}
	if total > l.MaxPropsSize {
		return &PropsLimitError{What: "size", Got: total, Limit: l.MaxPropsSize}
	}
	return nil
}

// CheckPropsChange checks a collection's properties changed from old to
// p: like CheckProps, except that a change that takes no more room than
// old (no more dead properties, no more bytes) passes, so that properties
// stored under larger limits can still be removed or shrunk.
//
// Errors: *PropsLimitError.
func (l Limits) CheckPropsChange(old, p Props) error {
	if err := l.CheckProps(p); err != nil && grew(old.Dead, p.Dead, &old, &p) {
		return err
	}
	return nil
}

// CheckDeadPropsChange is CheckPropsChange for an object's dead
// properties.
//
// Errors: *PropsLimitError.
func (l Limits) CheckDeadPropsChange(old, dead map[string]string) error {
	if err := l.CheckDeadProps(dead); err != nil && grew(old, dead, nil, nil) {
		return err
	}
	return nil
}

// grew reports whether new properties take more room than old ones: more
// dead properties, or more bytes. oldP and newP, when set, add the
// collection's live properties to the byte count.
func grew(oldDead, newDead map[string]string, oldP, newP *Props) bool {
	if len(newDead) > len(oldDead) {
		return true
	}
	return propsBytes(newDead, newP) > propsBytes(oldDead, oldP)
}

func propsBytes(dead map[string]string, p *Props) int {
	n := 0
	for k, v := range dead {
		n += len(k) + len(v)
	}
	if p != nil {
		n += len(p.DisplayName) + len(p.Description) + len(p.Color) + len(p.Order) + len(p.Timezone)
		for _, c := range p.Components {
			n += len(c)
		}
	}
	return n
}

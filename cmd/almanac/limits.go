package main

import (
	"flag"
	"fmt"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/engine"
)

// limitsConfig holds the flags of the name, property and XML body limits
// (README "Limits"): the engine enforces the first five on every write,
// the DAV handler the XML body size.
type limitsConfig struct {
	MaxNameLength int
	MaxPathLength int
	MaxPropValue  int
	MaxDeadProps  int
	MaxPropsSize  int
	MaxXMLBody    int64
}

// flags registers the limit flags on fs.
func (l *limitsConfig) flags(fs *flag.FlagSet) {
	fs.IntVar(&l.MaxNameLength, "max-name-length", engine.DefaultMaxNameLength, "longest path segment or object name in `bytes` (longer: 414)")
	fs.IntVar(&l.MaxPathLength, "max-path-length", engine.DefaultMaxPathLength, "longest collection path plus object name in `bytes` (longer: 414)")
	fs.IntVar(&l.MaxPropValue, "max-prop-value", engine.DefaultMaxPropValue, "largest property value in `bytes` (larger: 507 in the PROPPATCH answer)")
	fs.IntVar(&l.MaxDeadProps, "max-dead-props", engine.DefaultMaxDeadProps, "most dead properties of one collection or object (more: 507)")
	fs.IntVar(&l.MaxPropsSize, "max-props-size", engine.DefaultMaxPropsSize, "largest total of one collection's or object's properties in `bytes` (more: 507)")
	fs.Int64Var(&l.MaxXMLBody, "max-xml-body", dav.DefaultMaxXMLBody, "largest XML request body in `bytes` (PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, REPORT; larger: 413)")
}

// validate reports the first limit that is not positive.
func (l *limitsConfig) validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"max-name-length", int64(l.MaxNameLength)}, {"max-path-length", int64(l.MaxPathLength)},
		{"max-prop-value", int64(l.MaxPropValue)}, {"max-dead-props", int64(l.MaxDeadProps)},
		{"max-props-size", int64(l.MaxPropsSize)}, {"max-xml-body", l.MaxXMLBody},
	} {
		if f.v <= 0 {
			return &ConfigError{Field: f.name, Err: fmt.Errorf("must be positive, got %d", f.v)}
		}
	}
	if l.MaxPathLength < l.MaxNameLength {
		return &ConfigError{Field: "max-path-length", Err: fmt.Errorf("must be at least max-name-length (%d), got %d", l.MaxNameLength, l.MaxPathLength)}
	}
	return nil
}

// engine returns the engine's Limits.
func (l *limitsConfig) engine() engine.Limits {
	return engine.Limits{
		MaxNameLength: l.MaxNameLength,
		MaxPathLength: l.MaxPathLength,
		MaxPropValue:  l.MaxPropValue,
		MaxDeadProps:  l.MaxDeadProps,
		MaxPropsSize:  l.MaxPropsSize,
	}
}

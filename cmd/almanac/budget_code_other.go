//go:build !linux

package main

// releaseCodePages does nothing outside Linux: the large-folio mapping it
// works around is Linux's (see budget_code_linux.go).
func releaseCodePages() (released, cached int64, err error) { return 0, 0, nil }

// ownCodeMappings finds nothing to release outside Linux.
func ownCodeMappings() ([]codeSpan, error) { return nil, nil }

// unmapCodePages does nothing outside Linux.
func unmapCodePages([]codeSpan) error { return nil }

package audit

import (
	"fmt"
	"sort"
	"strings"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/engine/contentline"
)

// Diff compares two versions of an iCalendar or vCard object property by
// property, per component (keyed by type, UID and RECURRENCE-ID), on raw
// values, and returns readable lines: "- " removed, "+ " added.
func Diff(old, new []byte) ([]string, error) {
	a, err := propsOf(old)
	if err != nil {
		return nil, fmt.Errorf("old version: %w", err)
	}
	b, err := propsOf(new)
	if err != nil {
		return nil, fmt.Errorf("new version: %w", err)
	}
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []string
	for _, k := range sorted {
		before, after := a[k], b[k]
		for _, l := range minus(before, after) {
			out = append(out, "- "+k+" "+l)
		}
		for _, l := range minus(after, before) {
			out = append(out, "+ "+k+" "+l)
		}
	}
	return out, nil
}

// minus returns the lines of a that b lacks (as multisets).
func minus(a, b []string) []string {
	count := map[string]int{}
	for _, l := range b {
		count[l]++
	}
	var out []string
	for _, l := range a {
		if count[l] > 0 {
			count[l]--
			continue
		}
		out = append(out, l)
	}
	return out
}

// propsOf maps each component ("VEVENT uid=X rid=Y", "VCARD") to its
// property lines "NAME;PARAMS:value" (unfolded, raw), the lines of nested
// components prefixed with their path ("VALARM TRIGGER:-PT5M").
// Calendar-level properties are left out.
func propsOf(body []byte) (map[string][]string, error) {
	top := 2 // components compared: those inside the VCALENDAR
	if strings.Contains(strings.ToUpper(string(body[:min(len(body), 64)])), "BEGIN:VCARD") {
		if _, err := engine.ParseVCard(body); err != nil {
			return nil, err
		}
		top = 1
	} else if _, err := engine.ParseCalendar(body); err != nil {
		return nil, err
	}
	lim := contentline.Defaults()
	lim.MaxLineLength = 0 // a stored body is bounded by the object size
	s := contentline.NewScanner(string(body), lim)
	out := map[string][]string{}
	var stack, lines []string
	var uid, rid, tzid string
	for s.Scan() {
		l := s.Line()
		switch {
		case l.Is("BEGIN"):
			stack = append(stack, strings.ToUpper(l.Value))
			if len(stack) == top {
				lines, uid, rid, tzid = nil, "", "", ""
			}
		case l.Is("END"):
			if len(stack) == top {
				key := stack[top-1]
				if uid != "" {
					key += " uid=" + uid
				}
				if rid != "" {
					key += " rid=" + rid
				}
				if stack[top-1] == "VTIMEZONE" {
					key += " tzid=" + tzid
				}
				out[key] = append(out[key], lines...)
			}
			stack = stack[:len(stack)-1]
		case len(stack) == top:
			lines = append(lines, l.Raw)
			if top == 2 {
				switch strings.ToUpper(l.Name) {
				case "UID":
					uid = l.Value
				case "RECURRENCE-ID":
					rid = l.Value
				case "TZID":
					tzid = l.Value
				}
			}
		case len(stack) > top:
			lines = append(lines, strings.Join(stack[top:], "/")+" "+l.Raw)
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

package audit

import (
	"fmt"
	"sort"
	"strings"

	"github.com/almanac/almanac/engine"
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
// property lines "NAME;PARAMS:value" (unfolded, raw).
func propsOf(body []byte) (map[string][]string, error) {
	if strings.Contains(strings.ToUpper(string(body[:min(len(body), 64)])), "BEGIN:VCARD") {
		if _, err := engine.ParseVCard(body); err != nil {
			return nil, err
		}
		return map[string][]string{"VCARD": ownLines(unfold(physLines(body)))}, nil
	}
	if _, err := engine.ParseCalendar(body); err != nil {
		return nil, err
	}
	_, comps, err := calendarParts(body)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, c := range comps {
		key := c.name
		if uid := propValue(c.lines, "UID"); uid != "" {
			key += " uid=" + uid
		}
		if rid := propValue(c.lines, "RECURRENCE-ID"); rid != "" {
			key += " rid=" + rid
		}
		if c.name == "VTIMEZONE" {
			key += " tzid=" + propValue(c.lines, "TZID")
		}
		out[key] = append(out[key], ownLines(unfold(c.lines))...)
	}
	return out, nil
}

// unfold joins folded lines.
func unfold(lines []string) []string {
	var out []string
	for _, l := range lines {
		if isCont(l) && len(out) > 0 {
			out[len(out)-1] += l[1:]
			continue
		}
		out = append(out, l)
	}
	return out
}

// ownLines drops BEGIN/END lines of the outer component and keeps nested
// components' lines prefixed with their path.
func ownLines(lines []string) []string {
	var out []string
	var stack []string
	for _, l := range lines {
		u := strings.ToUpper(l)
		switch {
		case strings.HasPrefix(u, "BEGIN:"):
			stack = append(stack, strings.TrimPrefix(u, "BEGIN:"))
			continue
		case strings.HasPrefix(u, "END:"):
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		prefix := ""
		if len(stack) > 1 {
			prefix = strings.Join(stack[1:], "/") + " "
		}
		out = append(out, prefix+l)
	}
	return out
}

package auth

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestParseHtgroup: groups and their members (sorted, unique, lines of one
// group merged); comments and blank lines skipped; a malformed line is
// reported with its number and the lines after it still load.
func TestParseHtgroup(t *testing.T) {
	data := "# team file\n\nteam: carol bob\nno colon here\n: nobody\nfamily:alice\tbob  \nteam: bob dave\n"
	groups, errs := ParseHtgroup([]byte(data))
	want := map[string][]string{"team": {"bob", "carol", "dave"}, "family": {"alice", "bob"}}
	if !reflect.DeepEqual(groups, want) {
		t.Errorf("groups = %v, want %v", groups, want)
	}
	var lines []int
	for _, err := range errs {
		var le *HtgroupLineError
		if !errors.As(err, &le) {
			t.Fatalf("error %v is not a HtgroupLineError", err)
		}
		lines = append(lines, le.Line)
	}
	if !reflect.DeepEqual(lines, []int{4, 5}) {
		t.Errorf("errors on lines %v (%v), want [4 5]", lines, errs)
	}
}

// TestParseHtgroupBounds: groups past MaxHtgroupGroups are refused, each
// with its line; the first MaxHtgroupGroups load.
func TestParseHtgroupBounds(t *testing.T) {
	var b strings.Builder
	for i := range MaxHtgroupGroups + 2 {
		b.WriteString("g")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(strings.Repeat("y", i/26))
		b.WriteString(": u\n")
	}
	groups, errs := ParseHtgroup([]byte(b.String()))
	if len(groups) != MaxHtgroupGroups || len(errs) != 2 {
		t.Errorf("%d groups, %d errors (%v); want %d and 2", len(groups), len(errs), errs, MaxHtgroupGroups)
	}
}

// FuzzParseHtgroup: any input parses without panicking into groups whose
// names are non-empty and whose members are sorted and unique.
func FuzzParseHtgroup(f *testing.F) {
	f.Add([]byte("team: bob carol\n# c\nbad\n"))
	f.Add([]byte(":\n\x00: a a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		groups, _ := ParseHtgroup(data)
		if len(groups) > MaxHtgroupGroups {
			t.Fatalf("%d groups", len(groups))
		}
		for name, ms := range groups {
			if name == "" {
				t.Fatal("empty group name")
			}
			for i := 1; i < len(ms); i++ {
				if ms[i-1] >= ms[i] {
					t.Fatalf("members of %q not sorted and unique: %q", name, ms)
				}
			}
		}
	})
}

package query

import (
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Collations (RFC 4790 §9, RFC 5051).
const (
	collOctet          = "i;octet"
	collASCIICasemap   = "i;ascii-casemap"
	collUnicodeCasemap = "i;unicode-casemap"
)

var folder = cases.Fold()

// canon maps s to the form in which the collation compares strings.
func canon(collation, s string) string {
	switch collation {
	case collOctet:
		return s
	case collUnicodeCasemap:
		// RFC 5051 §2: decompose, case-fold (approximating the titlecase
		// mapping), decompose again.
		return norm.NFKD.String(folder.String(norm.NFKD.String(s)))
	}
	return asciiLower(s)
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// Matches applies the text-match to value, negation included.
func (tm *TextMatch) Matches(value string) bool {
	v, t := canon(tm.Collation, value), canon(tm.Collation, tm.Text)
	var ok bool
	switch tm.MatchType {
	case "equals":
		ok = v == t
	case "starts-with":
		ok = strings.HasPrefix(v, t)
	case "ends-with":
		ok = strings.HasSuffix(v, t)
	default:
		ok = strings.Contains(v, t)
	}
	return ok != tm.Negate
}

// unescapeText undoes RFC 5545 §3.3.11 / RFC 6350 §3.4 TEXT escaping.
func unescapeText(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
			switch v[i] {
			case 'n', 'N':
				b.WriteByte('\n')
			default:
				b.WriteByte(v[i])
			}
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

package davxml

import (
	"bytes"
	"errors"
	"fmt"
)

// Bounds of one request body, checked before the body is parsed. Go's
// encoding/xml has no limits of its own and materializes every attribute
// of a start tag before handing it over, so a PROPPATCH with 500,000
// attributes cost 130 MB; the budget scan below counts them first, without
// allocating.
const (
	// MaxElements is the most elements one request body may hold: a
	// calendar-multiget of 20,000 hrefs needs about 20,000.
	MaxElements = 100_000
	// MaxAttrs is the most attributes one request body may hold in all.
	MaxAttrs = 100_000
	// MaxAttrsPerElement is the most attributes one element may carry
	// (namespace declarations included).
	MaxAttrsPerElement = 64
	// MaxDepth bounds element nesting.
	MaxDepth = maxDepth
)

// ErrBudget is wrapped by the error of a body over one of the bounds above;
// callers answer it with 400 (or 413).
var ErrBudget = errors.New("davxml: request body over the parser's budget")

// checkBudget counts the elements and attributes of body and fails when
// one of the bounds is exceeded. It looks at markup only: comments, CDATA
// sections and processing instructions are skipped, quoted attribute
// values are not looked into. On ill-formed input its counts may be off;
// the parser that runs next rejects such input anyway.
func checkBudget(body []byte) error {
	return scanBudget(body, budget{MaxElements, MaxAttrs, MaxAttrsPerElement})
}

// budget holds the bounds scanBudget checks.
type budget struct{ elements, attrs, perElement int }

func scanBudget(body []byte, lim budget) error {
	elements, attrs := 0, 0
	for i := 0; i < len(body); {
		j := bytes.IndexByte(body[i:], '<')
		if j < 0 {
			break
		}
		i += j
		rest := body[i:]
		var next byte // the byte after '<': most are start and end tags
		if len(rest) > 1 {
			next = rest[1]
		}
		switch {
		case next == '/':
			i += 2
		case next == '!' || next == '?':
			switch {
			case bytes.HasPrefix(rest, []byte("<!--")):
				i = skipPast(body, i+4, "-->")
			case bytes.HasPrefix(rest, []byte("<![CDATA[")):
				i = skipPast(body, i+9, "]]>")
			case next == '?':
				i = skipPast(body, i+2, "?>")
			default:
				i += 2
			}
		default:
			if elements++; elements > lim.elements {
				return fmt.Errorf("%w: more than %d elements", ErrBudget, lim.elements)
			}
			i++
			inTag, quote := 0, byte(0)
		tag:
			for ; i < len(body); i++ {
				c := body[i]
				switch {
				case quote != 0:
					if c == quote {
						quote = 0
					}
				case c == '"' || c == '\'':
					quote = c
				case c == '=':
					if inTag++; inTag > lim.perElement {
						return fmt.Errorf("%w: more than %d attributes on one element", ErrBudget, lim.perElement)
					}
					if attrs++; attrs > lim.attrs {
						return fmt.Errorf("%w: more than %d attributes", ErrBudget, lim.attrs)
					}
				case c == '>':
					i++
					break tag
				}
			}
		}
	}
	return nil
}

// skipPast returns the index just after the first end at or after i, or
// len(b) when there is none.
func skipPast(b []byte, i int, end string) int {
	if i > len(b) {
		return len(b)
	}
	k := bytes.Index(b[i:], []byte(end))
	if k < 0 {
		return len(b)
	}
	return i + k + len(end)
}

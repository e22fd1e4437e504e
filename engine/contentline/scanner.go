package contentline

import (
	"fmt"
	"strings"
)

// Limits bound what one object (one top-level component, such as a
// VCALENDAR or a VCARD) may hold. A zero field means no bound. Defaults
// returns the bounds PUT enforces; every reader of stored bodies uses the
// same ones, so what was stored can always be read back.
type Limits struct {
	// MaxLineLength bounds one unfolded content line, in bytes. A vCard
	// PHOTO or an ATTACH in base64 is one line as large as the object, so
	// the engine sets it to its largest object size.
	MaxLineLength int
	// MaxLines bounds the content lines (unfolded, BEGIN and END
	// included) of one object.
	MaxLines int
	// MaxDepth bounds the nesting of BEGIN/END; the top-level component
	// is depth 1 (VCALENDAR > VEVENT > VALARM is 3).
	MaxDepth int
	// MaxComponents bounds the components directly inside one component:
	// the VEVENTs of one UID (a master and its overrides) and VTIMEZONEs
	// of one VCALENDAR, or the VALARMs of one VEVENT.
	MaxComponents int
	// MaxObservances bounds the STANDARD and DAYLIGHT components of one
	// VTIMEZONE.
	MaxObservances int
	// MaxProperties bounds the properties of one component.
	MaxProperties int
	// MaxParams bounds the parameter values of one property (a parameter
	// with three values counts three).
	MaxParams int
}

// Default bounds. Real calendars and address books stay far below each:
// Thunderbird, Evolution, DAVx5 and iOS nest at most 4 deep, send a few
// observances per time zone (a full-history VTIMEZONE has tens), and at
// most hundreds of overrides, attendees or parameters; a base64 PHOTO is
// one long line, bounded only by the object size. Observances are bounded
// lower than other components because each costs the envelope and every
// query: 1000 observances with an RRULE each took 7.7 s to PUT (200: ~1 s
// on a loaded 2-core machine).
const (
	DefaultMaxLineLength  = 10 << 20
	DefaultMaxLines       = 100_000
	DefaultMaxDepth       = 8
	DefaultMaxComponents  = 1000
	DefaultMaxObservances = 200
	DefaultMaxProperties  = 10_000
	DefaultMaxParams      = 100
)

// Defaults returns the default Limits.
func Defaults() Limits {
	return Limits{
		MaxLineLength:  DefaultMaxLineLength,
		MaxLines:       DefaultMaxLines,
		MaxDepth:       DefaultMaxDepth,
		MaxComponents:  DefaultMaxComponents,
		MaxObservances: DefaultMaxObservances,
		MaxProperties:  DefaultMaxProperties,
		MaxParams:      DefaultMaxParams,
	}
}

// Error is a fault of the text or an exceeded limit, at a line.
type Error struct {
	// Line is the physical line number (1-based) where the content line
	// at fault starts, 0 at the end of the text.
	Line int
	// Limit names the exceeded field of Limits, "" for a syntax fault.
	Limit string
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return "at the end: " + e.Msg
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// Line is one unfolded content line. Its strings stay valid; the Params
// slice and its Values are reused by the next Scan.
type Line struct {
	// Num is the physical line number (1-based) where the line starts.
	Num int
	// Source is the line as written: its physical lines with the line
	// ends between them, without the final line end.
	Source string
	// Raw is the unfolded line.
	Raw string
	// Group is the vCard group ("item1" of "item1.EMAIL"), else "".
	Group string
	// Name is the property name as written (compare with Is).
	Name string
	// Params are the parameters in order, values unquoted but not
	// decoded (see DecodeParam).
	Params []Param
	// Value is the raw value, escapes kept.
	Value string
}

// Param is one parameter of a content line.
type Param struct {
	// Name is the parameter name as written; a vCard 2.1-style bare
	// parameter (TEL;CELL:…) has Name "TYPE".
	Name string
	// Values are the values, quotes removed, RFC 6868 not decoded.
	Values []string
}

// Is reports whether the line's name is name, ignoring case.
func (l *Line) Is(name string) bool { return strings.EqualFold(l.Name, name) }

// Param returns the first value of the parameter name (case ignored),
// RFC 6868-decoded, or "".
func (l *Line) Param(name string) string {
	for _, p := range l.Params {
		if strings.EqualFold(p.Name, name) && len(p.Values) > 0 {
			return DecodeParam(p.Values[0])
		}
	}
	return ""
}

// Folded reports whether the line spans more than one physical line.
func (l *Line) Folded() bool { return len(l.Source) != len(l.Raw) }

// frame is an open component.
type frame struct {
	name       string
	props      int
	children   int
	observ     int
	isTimezone bool
}

// Scanner reads the content lines of a text one at a time:
//
//	s := contentline.NewScanner(text, contentline.Defaults())
//	for s.Scan() {
//		l := s.Line()
//	}
//	if err := s.Err(); err != nil { … }
//
// It accepts CRLF and bare LF line ends, skips empty lines and a leading
// UTF-8 byte-order mark, and checks the BEGIN/END structure: every END
// closes the innermost open component, no property stands outside a
// component, and nothing is left open at the end. Several top-level
// components may follow each other (a stream of vCards); the limits on
// lines count each one apart.
type Scanner struct {
	text   string
	off    int
	num    int // physical line number of the line at off
	lim    Limits
	line   Line
	buf    []byte
	params []Param
	vals   []string
	stack  []frame
	lines  int
	err    error
}

// NewScanner returns a Scanner of text with the limits lim.
func NewScanner(text string, lim Limits) *Scanner {
	s := &Scanner{}
	s.Reset(text, lim)
	return s
}

// Reset makes s read text from the start with the limits lim, keeping its
// buffers.
func (s *Scanner) Reset(text string, lim Limits) {
	text = strings.TrimPrefix(text, bom)
	*s = Scanner{text: text, num: 1, lim: lim, buf: s.buf[:0], params: s.params[:0], vals: s.vals[:0], stack: s.stack[:0]}
}

const bom = "\uFEFF"

// Line returns the line the last Scan read; it is overwritten by the next.
func (s *Scanner) Line() *Line { return &s.line }

// Err returns the first fault met, nil at a clean end. It is an *Error.
func (s *Scanner) Err() error { return s.err }

// Depth returns how many components are open after the last line: a
// BEGIN line counts its own component, an END line no longer does.
func (s *Scanner) Depth() int { return len(s.stack) }

func (s *Scanner) fail(line int, limit, format string, args ...any) bool {
	s.err = &Error{Line: line, Limit: limit, Msg: fmt.Sprintf(format, args...)}
	return false
}

// Scan reads the next content line. It returns false at the end of the
// text or at the first fault (see Err).
func (s *Scanner) Scan() bool {
	if s.err != nil {
		return false
	}
	// Skip empty lines; find the start of the next content line.
	for {
		if s.off >= len(s.text) {
			if len(s.stack) > 0 {
				return s.fail(0, "", "END:%s missing", s.stack[len(s.stack)-1].name)
			}
			return false
		}
		c := s.text[s.off]
		if c == '\n' {
			s.off++
			s.num++
			continue
		}
		if c == '\r' && s.off+1 < len(s.text) && s.text[s.off+1] == '\n' {
			s.off += 2
			s.num++
			continue
		}
		if c == ' ' || c == '\t' {
			return s.fail(s.num, "", "a folded continuation line with no content line before it")
		}
		break
	}
	start, num := s.off, s.num
	end, next := s.physical(s.off)
	raw := s.text[start:end]
	folded := false
	for next < len(s.text) && (s.text[next] == ' ' || s.text[next] == '\t') {
		if !folded {
			folded = true
			s.buf = append(s.buf[:0], raw...)
		}
		s.num++
		cend, cnext := s.physical(next)
		if max := s.lim.MaxLineLength; max > 0 && len(s.buf)+cend-next-1 > max {
			return s.fail(num, "MaxLineLength", "a content line longer than %d bytes", max)
		}
		s.buf = append(s.buf, s.text[next+1:cend]...)
		end, next = cend, cnext
	}
	s.num++
	s.off = next
	if folded {
		raw = string(s.buf)
	} else if max := s.lim.MaxLineLength; max > 0 && len(raw) > max {
		return s.fail(num, "MaxLineLength", "a content line longer than %d bytes", max)
	}
	if err, limit := s.parse(raw); err != "" {
		return s.fail(num, limit, "%s in %q", err, clip(raw))
	}
	s.line.Num, s.line.Source, s.line.Raw = num, s.text[start:end], raw
	return s.structure(num)
}

// physical returns the end of the physical line at i (before its CR LF or
// LF) and the start of the next.
func (s *Scanner) physical(i int) (end, next int) {
	j := strings.IndexByte(s.text[i:], '\n')
	if j < 0 {
		return len(s.text), len(s.text)
	}
	end, next = i+j, i+j+1
	if end > i && s.text[end-1] == '\r' {
		end--
	}
	return end, next
}

// parse splits raw into s.line's group, name, parameters and value; it
// returns what is wrong, "" when nothing is, and the limit exceeded.
func (s *Scanner) parse(raw string) (fault, limit string) {
	l := &s.line
	i := 0
	for i < len(raw) && raw[i] != ';' && raw[i] != ':' {
		i++
	}
	if i == len(raw) {
		return "no colon", ""
	}
	name := raw[:i]
	l.Group = ""
	if dot := strings.IndexByte(name, '.'); dot >= 0 {
		l.Group, name = name[:dot], name[dot+1:]
		if !isName(l.Group) {
			return "a malformed group name", ""
		}
	}
	if !isName(name) {
		return "a malformed property name", ""
	}
	l.Name = name
	s.params, s.vals = s.params[:0], s.vals[:0]
	var rangesArr [16][2]int // the values of each parameter in s.vals
	ranges := rangesArr[:0]
	rest := raw[i:]
	for len(rest) > 0 && rest[0] == ';' {
		rest = rest[1:]
		j := 0
		for j < len(rest) && rest[j] != '=' && rest[j] != ';' && rest[j] != ':' {
			j++
		}
		if j == len(rest) || !isName(rest[:j]) {
			return "a malformed parameter", ""
		}
		first := len(s.vals)
		if rest[j] != '=' { // vCard 2.1-style bare parameter: a TYPE value
			s.vals = append(s.vals, rest[:j])
			s.params = append(s.params, Param{Name: "TYPE"})
			ranges = append(ranges, [2]int{first, len(s.vals)})
			rest = rest[j:]
		} else {
			pname := rest[:j]
			rest = rest[j+1:]
			for {
				var v string
				if len(rest) > 0 && rest[0] == '"' {
					k := strings.IndexByte(rest[1:], '"')
					if k < 0 {
						return "an unterminated quoted parameter value", ""
					}
					v, rest = rest[1:1+k], rest[2+k:]
					if len(rest) == 0 || (rest[0] != ',' && rest[0] != ';' && rest[0] != ':') {
						return "text after a quoted parameter value", ""
					}
				} else {
					k := 0
					for k < len(rest) && rest[k] != ',' && rest[k] != ';' && rest[k] != ':' {
						if rest[k] == '"' {
							return "a double quote inside an unquoted parameter value", ""
						}
						k++
					}
					if k == len(rest) {
						return "no colon", ""
					}
					v, rest = rest[:k], rest[k:]
				}
				s.vals = append(s.vals, v)
				if rest[0] != ',' {
					break
				}
				rest = rest[1:]
			}
			s.params = append(s.params, Param{Name: pname})
			ranges = append(ranges, [2]int{first, len(s.vals)})
		}
		if max := s.lim.MaxParams; max > 0 && len(s.vals) > max {
			return fmt.Sprintf("more than %d parameter values", max), "MaxParams"
		}
	}
	if len(rest) == 0 || rest[0] != ':' {
		return "no colon", ""
	}
	for k, r := range ranges {
		s.params[k].Values = s.vals[r[0]:r[1]:r[1]]
	}
	l.Params = s.params
	l.Value = rest[1:]
	return "", ""
}

// structure follows BEGIN/END and counts against the limits.
func (s *Scanner) structure(num int) bool {
	l := &s.line
	if len(s.stack) == 0 {
		s.lines = 0
	}
	s.lines++
	if max := s.lim.MaxLines; max > 0 && s.lines > max {
		return s.fail(num, "MaxLines", "more than %d content lines in one object", max)
	}
	switch {
	case l.Is("BEGIN"):
		name := l.Value
		if !isName(name) {
			return s.fail(num, "", "BEGIN with a malformed component name %q", clip(name))
		}
		if n := len(s.stack); n > 0 {
			top := &s.stack[n-1]
			if top.isTimezone && (strings.EqualFold(name, "STANDARD") || strings.EqualFold(name, "DAYLIGHT")) {
				top.observ++
				if max := s.lim.MaxObservances; max > 0 && top.observ > max {
					return s.fail(num, "MaxObservances", "more than %d STANDARD/DAYLIGHT observances in one VTIMEZONE", max)
				}
			}
			top.children++
			if max := s.lim.MaxComponents; max > 0 && top.children > max {
				return s.fail(num, "MaxComponents", "more than %d components in one %s", max, top.name)
			}
		}
		if max := s.lim.MaxDepth; max > 0 && len(s.stack) >= max {
			return s.fail(num, "MaxDepth", "components nested deeper than %d levels", max)
		}
		s.stack = append(s.stack, frame{name: name, isTimezone: strings.EqualFold(name, "VTIMEZONE")})
	case l.Is("END"):
		n := len(s.stack)
		if n == 0 || !strings.EqualFold(s.stack[n-1].name, l.Value) {
			if n == 0 {
				return s.fail(num, "", "END:%s with no open component", clip(l.Value))
			}
			return s.fail(num, "", "END:%s where END:%s was expected", clip(l.Value), s.stack[n-1].name)
		}
		s.stack = s.stack[:n-1]
	default:
		n := len(s.stack)
		if n == 0 {
			return s.fail(num, "", "property %s outside a component", l.Name)
		}
		top := &s.stack[n-1]
		top.props++
		if max := s.lim.MaxProperties; max > 0 && top.props > max {
			return s.fail(num, "MaxProperties", "more than %d properties in one %s", max, top.name)
		}
	}
	return true
}

// isName reports whether s is a name: letters, digits, "-" and "_" (RFC
// 5545 §3.1 iana-token and x-name; "_" as some producers write it).
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// clip shortens s for a message, at a rune boundary.
func clip(s string) string {
	if len(s) <= 60 {
		return s
	}
	cut := 60
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

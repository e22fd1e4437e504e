package engine

import (
	"fmt"
	"strings"

	"github.com/almanac/almanac/engine/contentline"
	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
)

// contentLimits returns the bounds PUT puts on calendar and address data:
// contentline's defaults, with lines as long as the largest object (a
// vCard PHOTO in base64 is one line).
func (db *DB) contentLimits() contentline.Limits {
	lim := contentline.Defaults()
	lim.MaxLineLength = int(min(db.opts.MaxObjectSize, 1<<40))
	return lim
}

// lineCheck inspects one content line while it is read; an error refuses
// the body.
type lineCheck func(l *contentline.Line) error

// ParseCalendar parses one VCALENDAR into go-ical's model within
// contentline's default limits. The lines are read by contentline, not by
// go-ical's decoder, which panics on some malformed parameters, recurses
// without limit and is quadratic in the length of parameter values.
// Parameter values are RFC 6868-decoded.
func ParseCalendar(body []byte) (*ical.Calendar, error) {
	return parseCalendar(string(body), contentline.Defaults(), nil)
}

func parseCalendar(text string, lim contentline.Limits, check lineCheck) (*ical.Calendar, error) {
	s := contentline.NewScanner(text, lim)
	var root *ical.Component
	var stack []*ical.Component
	for s.Scan() {
		l := s.Line()
		if check != nil {
			if err := check(l); err != nil {
				return nil, fmt.Errorf("line %d: %w", l.Num, err)
			}
		}
		switch {
		case l.Is("BEGIN"):
			c := ical.NewComponent(strings.ToUpper(l.Value))
			if n := len(stack); n > 0 {
				stack[n-1].Children = append(stack[n-1].Children, c)
			} else if root != nil {
				return nil, fmt.Errorf("line %d: more than one VCALENDAR", l.Num)
			} else if c.Name != ical.CompCalendar {
				return nil, fmt.Errorf("line %d: BEGIN:%s where BEGIN:VCALENDAR was expected", l.Num, c.Name)
			} else {
				root = c
			}
			stack = append(stack, c)
		case l.Is("END"):
			stack = stack[:len(stack)-1]
		default:
			c := stack[len(stack)-1]
			p := ical.Prop{Name: strings.ToUpper(l.Name), Value: l.Value, Params: icalParams(l.Params)}
			c.Props[p.Name] = append(c.Props[p.Name], p)
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if root == nil {
		return nil, fmt.Errorf("no VCALENDAR")
	}
	return &ical.Calendar{Component: root}, nil
}

// icalParams converts parameters, names upper case and values decoded;
// nil when there are none.
func icalParams(ps []contentline.Param) ical.Params {
	if len(ps) == 0 {
		return nil
	}
	out := make(ical.Params, len(ps))
	for _, p := range ps {
		name := strings.ToUpper(p.Name)
		for _, v := range p.Values {
			out[name] = append(out[name], contentline.DecodeParam(v))
		}
	}
	return out
}

// ParseVCard parses one vCard into go-vcard's model within contentline's
// default limits. The lines are read by contentline, not by go-vcard's
// decoder, which unfolds by string concatenation (quadratic: a 4 MB
// folded PHOTO took 74 s) and drops lines it cannot parse. Values are
// unescaped as go-vcard does (\\, \n and \, only; \; is kept so that
// structured values still split); parameter values are RFC 6868-decoded.
func ParseVCard(body []byte) (vcard.Card, error) {
	return parseVCard(string(body), contentline.Defaults(), nil)
}

// vcardValue unescapes a value as go-vcard's decoder does.
var vcardValue = strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\,`, ",")

func parseVCard(text string, lim contentline.Limits, check lineCheck) (vcard.Card, error) {
	s := contentline.NewScanner(text, lim)
	var card vcard.Card
	for s.Scan() {
		l := s.Line()
		if check != nil {
			if err := check(l); err != nil {
				return nil, fmt.Errorf("line %d: %w", l.Num, err)
			}
		}
		begin, end := l.Is("BEGIN"), l.Is("END")
		switch {
		case begin && s.Depth() == 1:
			if !strings.EqualFold(l.Value, "VCARD") {
				return nil, fmt.Errorf("line %d: BEGIN:%s where BEGIN:VCARD was expected", l.Num, l.Value)
			}
			if card != nil {
				return nil, fmt.Errorf("line %d: more than one vCard", l.Num)
			}
			card = vcard.Card{}
		case begin:
			return nil, fmt.Errorf("line %d: a component inside a vCard", l.Num)
		case end:
		default:
			f := &vcard.Field{Value: vcardValue.Replace(l.Value), Group: l.Group}
			if len(l.Params) > 0 {
				f.Params = vcard.Params{}
				for _, p := range l.Params {
					name := strings.ToUpper(p.Name)
					for _, v := range p.Values {
						f.Params[name] = append(f.Params[name], contentline.DecodeParam(v))
					}
				}
			}
			name := strings.ToUpper(l.Name)
			card[name] = append(card[name], f)
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if card == nil {
		return nil, fmt.Errorf("no vCard")
	}
	return card, nil
}

package web

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/emersion/go-ical"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/engine/recur"
)

// Bounds of the agenda.
const (
	agendaDays = 30
	// maxAgenda bounds the occurrences shown; maxAgendaPerObject those of
	// one object (a rule every minute must not fill the page).
	maxAgenda          = 500
	maxAgendaPerObject = 100
)

// occurrence is one line of the agenda.
type occurrence struct {
	Start, End time.Time
	AllDay     bool
	Summary    string
	Location   string
	Calendar   string // display name, or name
	Color      string
	Coll       string // name, for the history link
	Object     string
}

type agendaDay struct {
	Date  string
	Items []occurrence
}

type agendaData struct {
	From, To  time.Time
	Days      []agendaDay
	Truncated bool
	// Skipped counts objects that could not be read or expanded.
	Skipped int
}

// agenda lists the next 30 days of the user's calendars, recurrences
// expanded by engine/recur (the code behind CalDAV's time-range queries
// and <C:expand>): the objects whose time envelope misses the window are
// never read.
func (h *Handler) agenda(w http.ResponseWriter, q *request) error {
	now := h.opts.Clock().UTC()
	from := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, agendaDays)
	v, children, err := h.homeChildren(q)
	if err != nil {
		return err
	}
	defer v.Close()
	d := agendaData{From: from, To: to}
	var all []occurrence
	for _, c := range children {
		if c.Kind != engine.KindCalendar {
			continue
		}
		label := cmp.Or(c.Props.DisplayName, collName(c.Path))
		for o, err := range v.Objects(c.Path, engine.ListOptions{Bodies: true, Start: from, End: to}) {
			if err != nil {
				return fmt.Errorf("read %s: %w", c.Path, err)
			}
			if err := q.Context().Err(); err != nil {
				return err
			}
			cal, err := engine.ParseCalendar(o.Body)
			if err != nil {
				d.Skipped++
				continue
			}
			// The expansion's own bounds (recur's default instances and
			// iterations) cap the work; the page shows the first few.
			ins, err := recur.Expand(q.Context(), cal, ical.CompEvent, from, to, recur.Options{Floating: time.UTC})
			if err != nil {
				d.Skipped++
				continue
			}
			if len(ins) > maxAgendaPerObject {
				ins, d.Truncated = ins[:maxAgendaPerObject], true
			}
			for _, in := range ins {
				all = append(all, occurrence{Start: in.Start, End: in.End, AllDay: in.AllDay,
					Summary: propText(in.Comp, ical.PropSummary), Location: propText(in.Comp, ical.PropLocation),
					Calendar: label, Color: c.Props.Color, Coll: collName(c.Path), Object: o.Name})
			}
			if len(all) > 4*maxAgenda {
				d.Truncated = true
				break
			}
		}
	}
	slices.SortStableFunc(all, func(a, b occurrence) int { return a.Start.Compare(b.Start) })
	if len(all) > maxAgenda {
		all, d.Truncated = all[:maxAgenda], true
	}
	for _, oc := range all {
		day := oc.Start.Format("Monday 2 January 2006")
		if n := len(d.Days); n == 0 || d.Days[n-1].Date != day {
			d.Days = append(d.Days, agendaDay{Date: day})
		}
		d.Days[len(d.Days)-1].Items = append(d.Days[len(d.Days)-1].Items, oc)
	}
	return h.show(w, q, "agenda", "Agenda: the next 30 days", "agenda", d)
}

// propText returns the text value of comp's property name, or "".
func propText(comp *ical.Component, name string) string {
	if comp == nil {
		return ""
	}
	p := comp.Props.Get(name)
	if p == nil {
		return ""
	}
	if s, err := p.Text(); err == nil {
		return s
	}
	return p.Value
}

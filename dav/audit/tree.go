package audit

import (
	"context"
	"net/http"
	"net/url"

	"github.com/almanac/almanac/engine"
)

// ExportTree returns the calendars and address books at and below path
// (one collection, or a whole home) as of asOf ("" for now), each with its
// properties and every object under its name with its stored bytes: what
// an import of the same tree writes back, and what a vdir or a Radicale
// folder holds.
func (l *Local) ExportTree(ctx context.Context, p, asOf string) (*ImportRequest, error) {
	st, err := l.exportState(p, asOf)
	if err != nil {
		return nil, err
	}
	out := &ImportRequest{Collections: []ImportCollection{}}
	for _, cs := range st.Collections {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := cs.Collection
		if c.Kind != engine.KindCalendar && c.Kind != engine.KindAddressBook {
			continue
		}
		ic := ImportCollection{
			Path: c.Path, Kind: c.Kind.String(), DisplayName: c.Props.DisplayName, Description: c.Props.Description,
			Color: c.Props.Color, Order: c.Props.Order, Timezone: c.Props.Timezone, Dead: c.Props.Dead, Items: []Item{},
		}
		if c.Kind == engine.KindCalendar {
			ic.Components = c.Props.Components
			if len(ic.Components) == 0 {
				ic.Components = engine.DefaultComponents
			}
		}
		for _, o := range cs.Objects {
			ic.Items = append(ic.Items, Item{Name: o.Name, UID: o.UID, Body: o.Body})
		}
		out.Collections = append(out.Collections, ic)
	}
	return out, nil
}

// ExportTree exports a tree through the server.
func (c *Client) ExportTree(ctx context.Context, path, asOf string) (*ImportRequest, error) {
	q := url.Values{"path": {path}, "tree": {"1"}}
	if asOf != "" {
		q.Set("as_of", asOf)
	}
	var out ImportRequest
	return &out, c.do(ctx, http.MethodGet, "/admin/export", q, nil, &out)
}

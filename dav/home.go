package dav

import (
	"context"
	"errors"
	"fmt"

	"github.com/almanac/almanac/engine"
)

// Names of the collections every user gets with their home.
const (
	defaultCalendar    = "calendar"
	defaultAddressBook = "contacts"
)

// ensureHome creates user's home with its default calendar and address
// book on the user's first request. Races with a concurrent first request
// are harmless: ErrExists counts as success. Once the home is known to
// exist, the check is a map lookup.
func (h *Handler) ensureHome(ctx context.Context, user string, m engine.Meta) error {
	if _, ok := h.homes.Load(user); ok {
		return nil
	}
	if err := EnsureHome(ctx, h.db, user, m); err != nil {
		return err
	}
	h.homes.Store(user, struct{}{})
	return nil
}

// EnsureHome creates user's home with its default calendar and address
// book ("calendar" and "contacts") and its schedule inbox and outbox
// unless the home exists (a home made before scheduling gets its inbox
// and outbox); ErrExists from
// a concurrent creation counts as success. The web app calls it at
// sign-in, as the DAV handler does on a user's first request.
func EnsureHome(ctx context.Context, db *engine.DB, user string, m engine.Meta) error {
	home := homePath(user)
	_, err := db.Collection(home)
	switch {
	case err == nil:
		return ensureScheduling(ctx, db, user, m)
	case !errors.Is(err, engine.ErrNotFound):
		return fmt.Errorf("look up home of %s: %w", user, err)
	}
	specs := []engine.CollectionSpec{
		{Path: home, Kind: engine.KindHome, Owner: user},
		{Path: home + defaultCalendar + "/", Kind: engine.KindCalendar, Owner: user,
			Props: engine.Props{DisplayName: "Calendar", Components: []string{"VEVENT", "VTODO"}}},
		{Path: home + defaultAddressBook + "/", Kind: engine.KindAddressBook, Owner: user,
			Props: engine.Props{DisplayName: "Contacts"}},
	}
	specs = append(specs, scheduleSpecs(user)...)
	for _, spec := range specs {
		if _, err := db.CreateCollection(ctx, m, spec); err != nil && !errors.Is(err, engine.ErrExists) {
			return fmt.Errorf("create %s: %w", spec.Path, err)
		}
	}
	return nil
}

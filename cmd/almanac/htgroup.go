package main

import (
	"context"
	"time"

	"github.com/almanac/almanac/dav/auth"
)

// htgroupPoll is how often serve looks whether the htgroup file changed.
const htgroupPoll = 2 * time.Second

// fileGroup is ServeEnv.FileGroup: the groups of --htgroup and of
// --ldap-group-base; nil without either.
func (m *Main) fileGroup() func(string) bool {
	switch {
	case m.groups == nil && m.ldapGroups == nil:
		return nil
	case m.ldapGroups == nil:
		return m.groups.Defines
	case m.groups == nil:
		return m.ldapGroups.defines
	}
	return func(name string) bool { return m.groups.Defines(name) || m.ldapGroups.defines(name) }
}

// startHtgroup loads --htgroup into the log and watches it: a change of
// its size or modification time is synced within htgroupPoll (a SIGHUP
// syncs at once). A file that cannot be read at start is a ConfigError;
// later, the groups stay as they are and the error is logged.
func (m *Main) startHtgroup(ctx context.Context) error {
	if m.Config.Htgroup == "" {
		return nil
	}
	g := &auth.GroupFile{Path: m.Config.Htgroup, DB: m.DB, Logger: m.Logger.With("component", "htgroup")}
	if err := g.Sync(ctx, true); err != nil {
		return &ConfigError{Field: "htgroup", Err: err}
	}
	m.groups = g
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(htgroupPoll)
		defer t.Stop()
		last := "" // the last error logged: an unreadable file is logged once per error
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				err := g.Sync(context.Background(), false)
				if err != nil && err.Error() != last {
					m.Logger.Error("htgroup unreadable; keeping the groups as they are", "err", err)
				}
				last = ""
				if err != nil {
					last = err.Error()
				}
			}
		}
	}()
	m.stops = append(m.stops, hookStop{"htgroup", func(context.Context) error {
		close(quit)
		<-done
		return nil
	}})
	return nil
}

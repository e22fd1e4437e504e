package engine

import (
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
)

// siblingToken reads a sync token of c's sibling: when one of the two
// collections is a user's schedule inbox and the other a calendar of the
// same owner, it returns the point to list c's changes from (full when
// that point is older than c's horizon, so a compaction of the inbox never
// refuses the calendar's token) and true; otherwise false.
//
// Thunderbird keeps one sync token for a calendar and the inbox it polls
// (CalDavCalendar's mWebdavSyncToken, used by CalDavWebDavSyncHandler for
// both), so each refresh presents the inbox's token to the calendar and
// the calendar's to the inbox. Refused, it drops the token and syncs the
// calendar in full, whose new token the inbox refuses again, without end.
//
// Reading the sibling's token is exact: its sequence number is a point in
// the one log, and c's change index lists every change after any point at
// or above c's horizon, which is c's creation or later. The inbox answers
// a calendar's token with that same token (Changes), so the token the
// client keeps only ever moves with the calendar: were it moved to the
// inbox's last change, a later calendar sync from it would skip the
// calendar's changes between the two.
func (db *DB) siblingToken(r getter, token string, c *statev1.Collection) (from Seq, full, ok bool) {
	id, seq, valid := db.openSyncToken(token)
	if !valid || id == c.Id {
		return 0, false, false
	}
	other, err := readCollection(r, id)
	if err != nil || other.Deleted || other.Owner != c.Owner {
		return 0, false, false
	}
	inbox, cal := eventv1.CollectionKind_COLLECTION_KIND_SCHEDULE_INBOX, eventv1.CollectionKind_COLLECTION_KIND_CALENDAR
	if (other.Kind != inbox || c.Kind != cal) && (other.Kind != cal || c.Kind != inbox) {
		return 0, false, false
	}
	if seq < c.Horizon {
		return 0, true, true
	}
	return Seq(min(seq, c.LastSeq)), false, true
}

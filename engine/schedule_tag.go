package engine

import (
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
)

// Schedule tags (RFC 6638 §3.2.10) let an attendee's client update its
// copy without losing an organizer's change that arrived meanwhile, and
// an organizer's client update its copy without failing on the PARTSTATs
// the server merged from replies: the tag changes on every write of a
// scheduling object resource but the server's merge of a REPLY into the
// organizer's copy. The projection derives it from the events alone, so
// a rebuild gives the same tags.

// scheduleTag returns the schedule tag of the version ev writes over old
// (nil for a new object): "" when it is no scheduling object (the
// validator marked the event, Event.scheduling_object),
// old's tag when ev merges a REPLY into a scheduling object, else ev's
// ETag.
func scheduleTag(ev *eventv1.Event, old *statev1.Object) string {
	if !ev.SchedulingObject {
		return ""
	}
	if old != nil && old.ScheduleTag != "" && ev.Schedule != nil && ev.Schedule.Method == "REPLY" {
		return old.ScheduleTag
	}
	return ev.Etag
}

// asOfScheduleTag is the schedule tag of the version ev wrote as seen
// by a view of the past, which does not follow merged REPLYs: its ETag
// for a scheduling object, "" for any other.
func asOfScheduleTag(ev *eventv1.Event) string {
	if ev.SchedulingObject {
		return ev.Etag
	}
	return ""
}

// checkScheduleTag applies If-Schedule-Tag-Match (RFC 6638 §8.3) to the
// current version cur (nil when the object does not exist): tag "" asks
// nothing; any other value must be cur's schedule tag.
func checkScheduleTag(cur *statev1.Object, tag string) error {
	if tag == "" {
		return nil
	}
	got := ""
	if cur != nil {
		got = cur.ScheduleTag
	}
	if got != tag {
		return &ETagMismatchError{Want: "schedule tag " + tag, Got: got}
	}
	return nil
}

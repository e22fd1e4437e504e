// Package sched is implicit scheduling between the server's users (RFC
// 6638 §3): an organizer's PUT or DELETE of a scheduling object delivers
// the iTIP messages package itip computes (REQUEST, ADD, CANCEL) into each
// local attendee's schedule inbox and processes them into the attendee's
// calendar; an attendee's change of their PARTSTAT (or deletion of their
// copy) delivers a REPLY to the organizer's inbox and updates the
// organizer's copy. SCHEDULE-STATUS is written back on the organizer's
// copy for every attendee a message went to: 1.2 (delivered) for a local
// user, 3.7 (invalid calendar user) for an address no user has, or 1.1
// (sent) when Scheduler.Email queues an email for it (iMIP, package
// imip). Messages received by email go through ExternalReply and
// ExternalRequest (imip.go).
//
// The request's own write and every delivery are one engine.WriteScheduled
// step: they commit together or not at all, so a crash never loses an
// invitation nor sends one twice. Each delivery is an event of the log
// with its engine.Schedule (method, sender, recipient, status), written
// with the actor of the request that caused it; restoring a calendar
// appends plain puts and sends nothing, unless asked: Reschedule then
// runs the scheduling of each object the restore changed.
//
// The package knows nothing of HTTP or XML: package dav calls Write from
// its PUT and DELETE handlers and maps its errors (*PreconditionError,
// the itip preconditions) to responses.
package sched

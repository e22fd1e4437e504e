package sched

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/itip"
	"github.com/emersion/go-ical"
)

// Directory is what scheduling needs to know of the server's principals
// and where their collections are; package dav implements it.
type Directory interface {
	// User returns the local user the calendar user address addr names,
	// "" when none does.
	User(v *engine.View, addr string) (string, error)
	// Addresses returns the calendar user addresses of user.
	Addresses(v *engine.View, user string) ([]string, error)
	// Prepare makes sure user's home, default calendar and inbox exist.
	Prepare(ctx context.Context, user string, m engine.Meta) error
	// Inbox returns the path of user's schedule inbox.
	Inbox(user string) string
	// DefaultCalendar returns the path of the calendar that invitations
	// to user are processed into (RFC 6638 §9.2).
	DefaultCalendar(v *engine.View, user string) (string, error)
	// Calendars returns the paths of user's own calendars.
	Calendars(v *engine.View, user string) ([]string, error)
}

// DefaultMaxAttendees is Scheduler.MaxAttendees when it is zero.
const DefaultMaxAttendees = 100

// Scheduler does implicit scheduling for the writes of package dav.
type Scheduler struct {
	DB  *engine.DB
	Dir Directory
	// MaxAttendees bounds the ATTENDEEs of one scheduling object (RFC 4791
	// §5.2.9 max-attendees-per-instance). Default DefaultMaxAttendees.
	MaxAttendees int
	// Now is the clock of DTSTAMPs. Default time.Now.
	Now func() time.Time
	// NewName names a message delivered into an inbox. Default 32
	// random hex digits and ".ics".
	NewName func() string
	// MayDeliver reports whether sender (the local user a write acts
	// for) holds CALDAV:schedule-deliver on the inbox of the local user
	// recipient (RFC 6638 §6.1.1); a recipient it refuses gets nothing
	// and SCHEDULE-STATUS 3.8 (no authority). Default: every user may
	// deliver to every user.
	MayDeliver func(v *engine.View, sender, recipient string) (bool, error)
	// Email, when set, queues an iMIP message (engine.IMIP, sent by
	// package imip) for each message to a mailto: address no local user
	// has, in the same step as the write; SCHEDULE-STATUS is then 1.1
	// (sent) instead of 3.7.
	Email bool
}

// Request is a client's write of a calendar object.
type Request struct {
	Meta engine.Meta
	// User is whom the write acts for: the owner of the calendar.
	User string
	// Path is the calendar's path, Name the object's name.
	Path, Name string
	// Body is the new content; nil for a DELETE.
	Body []byte
	// IfMatch and IfNoneMatch are the request's preconditions.
	IfMatch     string
	IfNoneMatch bool
	// IfScheduleTagMatch is If-Schedule-Tag-Match (RFC 6638 §8.3): the
	// schedule tag the object must have.
	IfScheduleTagMatch string
	// NoReply is Schedule-Reply: F (RFC 6638 §8.1): an attendee's change
	// sends no REPLY.
	NoReply bool
	// Done, on a Reschedule, is the item of a restore's reschedule job
	// the step ends (engine.ScheduledWrite.RescheduleDone): it commits
	// with the step's deliveries, when the step writes anything.
	Done *engine.RescheduleItem
}

// Result is what Write did.
type Result struct {
	// Handled is false when the write is no scheduling write (no
	// ORGANIZER, no message to send): the caller writes it itself.
	Handled bool
	// ETag and Created describe the request's own object after a put.
	ETag    string
	Created bool
	// ScheduleTag is the object's new schedule tag (RFC 6638 §3.2.10).
	ScheduleTag string
	// Changed is set when the stored object differs from the request's
	// body (SCHEDULE-STATUS written): the response carries no ETag (RFC
	// 4791 §5.3.4).
	Changed bool
	// Delivered counts the messages delivered to local users.
	Delivered int
	// Marked is set when the step's commit ended Request.Done.
	Marked bool
}

// Preconditions of Write besides the itip ones.
var (
	// ErrUniqueObject: another object of the user's calendars has the
	// UID (CALDAV:unique-scheduling-object-resource, RFC 6638 §3.2.4.1).
	ErrUniqueObject = errors.New("sched: unique-scheduling-object-resource")
	// ErrMaxAttendees: more ATTENDEEs than MaxAttendees
	// (CALDAV:max-attendees-per-instance).
	ErrMaxAttendees = errors.New("sched: max-attendees-per-instance")
)

// Write makes req with the scheduling it implies. A delivery that meets a
// concurrent change of a recipient's copy is computed again (three
// times at most).
//
// Errors: those of engine.WriteScheduled for the request's own object
// (*engine.ETagMismatchError, *engine.InvalidDataError...), the
// preconditions of package itip (*itip.PreconditionError),
// ErrUniqueObject, ErrMaxAttendees (wrapped, with the numbers).
func (s *Scheduler) Write(ctx context.Context, req Request) (*Result, error) {
	var cal *ical.Calendar
	if req.Body != nil {
		c, err := engine.ParseCalendar(req.Body)
		if err != nil {
			return &Result{}, nil // the plain write refuses it with its reason
		}
		cal = c
	}
	for attempt := 0; ; attempt++ {
		res, err := s.write(ctx, req, cal, nil)
		var em *engine.ETagMismatchError
		if errors.As(err, &em) && !strings.HasPrefix(err.Error(), req.Path+req.Name+":") && attempt < 2 {
			continue // a recipient's copy changed meanwhile
		}
		if errors.Is(err, itip.ErrInvalidMessage) {
			// The body parses but is no valid calendar object (RFC 4791
			// §4.1: one UID, no duplicate instances...): the client's.
			err = &engine.InvalidDataError{Cond: engine.CondValidCalendarObjectResource, Msg: strings.TrimPrefix(err.Error(), "itip: ")}
		}
		return res, err
	}
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scheduler) mayDeliver(v *engine.View, sender, recipient string) (bool, error) {
	if s.MayDeliver == nil {
		return true, nil
	}
	return s.MayDeliver(v, sender, recipient)
}

func (s *Scheduler) maxAttendees() int {
	if s.MaxAttendees > 0 {
		return s.MaxAttendees
	}
	return DefaultMaxAttendees
}

// write is one attempt of Write (of Reschedule when r is set: r.prev is
// the version replaced, the stored one is req's).
func (s *Scheduler) write(ctx context.Context, req Request, cal *ical.Calendar, r *restored) (*Result, error) {
	v, err := s.DB.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	var old *ical.Calendar
	switch o, err := v.Object(req.Path, req.Name, true); {
	case r != nil:
		old = schedulingObject(r.prev)
	case err == nil:
		old = schedulingObject(o.Body)
	case !errors.Is(err, engine.ErrNotFound):
		return nil, fmt.Errorf("read %s%s: %w", req.Path, req.Name, err)
	}
	mine, err := s.Dir.Addresses(v, req.User)
	if err != nil {
		return nil, err
	}
	role, me, org, err := roleOf(old, cal, mine)
	if err != nil || role == itip.RoleNone {
		return &Result{}, err
	}
	if cal != nil {
		atts, err := itip.Attendees(cal)
		if err != nil {
			return nil, err
		}
		if len(atts) > s.maxAttendees() {
			return nil, fmt.Errorf("%w: %d attendees, at most %d", ErrMaxAttendees, len(atts), s.maxAttendees())
		}
		if old == nil {
			if err := s.checkUnique(v, req, cal); err != nil {
				return nil, err
			}
		}
	}
	t := &step{s: s, v: v, req: req, opts: itip.Options{Now: s.now(), OrganizerAddresses: mine}}
	merged := false
	if role == itip.RoleOrganizer {
		// The attendees' answers are theirs: a stale or forged PARTSTAT
		// of the organizer's client gives way to the stored one.
		if kept, err := itip.KeepReplies(old, cal, t.opts); err != nil {
			return nil, err
		} else if kept != cal {
			cal, merged = kept, true
		}
		err = t.organizer(ctx, old, cal)
	} else if !req.NoReply {
		err = t.attendee(ctx, old, cal, me, org)
	}
	if err != nil {
		return &Result{}, err
	}
	// An organizer's change that sends nothing still keeps what is the
	// server's: the answers (merged) and the SCHEDULE-STATUS of earlier
	// deliveries, which clients do not send back.
	keep := role == itip.RoleOrganizer && cal != nil && (merged || hasScheduleStatus(old))
	if !t.handled && !keep {
		return &Result{}, nil
	}
	body := req.Body
	if cal != nil && (keep || len(t.status) > 0 || bytes.Contains(body, []byte("SCHEDULE-"))) {
		// SCHEDULE-STATUS is the server's, SCHEDULE-FORCE-SEND never
		// stored (RFC 6638 §7.2, §7.3).
		stored, err := t.applyAnswers(itip.WithScheduleStatus(itip.ForStorage(old, cal), t.status))
		if err != nil {
			return nil, err
		}
		if body, err = Encode(stored); err != nil {
			return nil, err
		}
	}
	own := engine.ScheduledWrite{Path: req.Path, Name: req.Name, Body: body, IfMatch: req.IfMatch, IfNoneMatch: req.IfNoneMatch, IfScheduleTagMatch: req.IfScheduleTagMatch, Meta: req.Meta}
	writes := append([]engine.ScheduledWrite{own}, t.writes...)
	if r != nil && cal == nil {
		if writes = writes[1:]; len(writes) == 0 { // the restore deleted it already
			return &Result{Handled: true}, nil
		}
	}
	if req.Done != nil {
		writes = append(writes, engine.ScheduledWrite{RescheduleDone: req.Done, Meta: req.Meta})
	}
	res, err := s.DB.WriteScheduled(ctx, writes)
	if err != nil {
		return nil, err
	}
	marked := req.Done != nil
	if r != nil && cal == nil {
		return &Result{Handled: true, Delivered: t.delivered, Marked: marked}, nil
	}
	return &Result{Handled: true, ETag: res[0].ETag, ScheduleTag: res[0].ScheduleTag, Created: res[0].Created, Changed: !bytes.Equal(body, req.Body), Delivered: t.delivered, Marked: marked}, nil
}

// roleOf returns the user's role in the object, the address they take
// part as and the organizer's: the stored version decides (an attendee
// who names themselves organizer stays an attendee; an organizer whose
// new version has no ORGANIZER cancels), a new object its own.
func roleOf(old, cal *ical.Calendar, mine []string) (itip.Role, string, string, error) {
	for _, x := range []*ical.Calendar{old, cal} {
		if x == nil {
			continue
		}
		role, me, err := itip.RoleOf(x, mine)
		if err != nil || role != itip.RoleNone {
			return role, me, organizer(x), err
		}
	}
	return itip.RoleNone, "", "", nil
}

// checkUnique refuses a new scheduling object whose UID another object of
// the user's calendars has (RFC 6638 §3.2.4.1).
func (s *Scheduler) checkUnique(v *engine.View, req Request, cal *ical.Calendar) error {
	uid := uidOf(cal)
	path, name, err := s.findCopy(v, req.User, uid)
	if err != nil || path == "" || (path == req.Path && name == req.Name) {
		return err
	}
	return fmt.Errorf("%w: %s%s has the UID %s", ErrUniqueObject, path, name, uid)
}

// findCopy returns where user's calendars hold uid ("" when none does).
func (s *Scheduler) findCopy(v *engine.View, user, uid string) (path, name string, err error) {
	if uid == "" {
		return "", "", nil
	}
	cals, err := s.Dir.Calendars(v, user)
	if err != nil {
		return "", "", err
	}
	for _, p := range cals {
		switch n, err := v.ObjectByUID(p, uid); {
		case err == nil:
			return p, n, nil
		case !errors.Is(err, engine.ErrNotFound):
			return "", "", fmt.Errorf("look up %s in %s: %w", uid, p, err)
		}
	}
	return "", "", nil
}

// step collects the deliveries of one attempt.
type step struct {
	s         *Scheduler
	v         *engine.View
	req       Request
	opts      itip.Options
	writes    []engine.ScheduledWrite
	status    map[string]string // attendee address -> SCHEDULE-STATUS
	handled   bool
	delivered int
	// organizing is set for an organizer's change (a local one, or one
	// by email: ExternalRequest): its REQUESTs to resources are answered
	// (resource.go), answers holds their REPLYs.
	organizing bool
	answers    []itip.Message
	// users caches Dir.User of the recipients' addresses.
	users map[string]string
}

// user is Dir.User of addr, looked up once a step.
func (t *step) user(addr string) (string, error) {
	if u, ok := t.users[addr]; ok {
		return u, nil
	}
	u, err := t.s.Dir.User(t.v, addr)
	if err != nil {
		return "", err
	}
	if t.users == nil {
		t.users = map[string]string{}
	}
	t.users[addr] = u
	return u, nil
}

// organizer delivers what the organizer's change sends.
func (t *step) organizer(ctx context.Context, old, cal *ical.Calendar) error {
	msgs, err := itip.OrganizerChange(old, cal, t.opts)
	if err != nil {
		return err
	}
	t.handled = len(msgs) > 0
	t.organizing = true
	t.status = map[string]string{}
	if msgs, err = t.resourcesFirst(msgs); err != nil {
		return err
	}
	for _, m := range msgs {
		m.Calendar = t.withAnswers(m.Calendar)
		st, err := t.deliver(ctx, m)
		if err != nil {
			return err
		}
		t.status[m.Recipient] = st
	}
	return nil
}

// attendee delivers the REPLY of an attendee's change to a local
// organizer and updates the organizer's copy, then tells the other local
// attendees.
func (t *step) attendee(ctx context.Context, old, cal *ical.Calendar, me, org string) error {
	msg, err := itip.AttendeeChange(old, cal, me, t.opts)
	if err != nil || msg == nil {
		return err
	}
	t.handled = true
	orgUser, err := t.s.Dir.User(t.v, org)
	if err == nil && orgUser == "" {
		_, err = t.email(*msg) // an organizer elsewhere
	}
	if err != nil || orgUser == "" || orgUser == t.req.User {
		return err
	}
	if ok, err := t.s.mayDeliver(t.v, t.req.User, orgUser); err != nil || !ok {
		return err // no schedule-deliver-reply on the organizer's inbox
	}
	return t.reply(ctx, orgUser, org, me, *msg)
}

// reply delivers the REPLY msg of attendee me to the local organizer
// orgUser (address org): into their inbox, applied to their copy, the
// other local attendees told.
func (t *step) reply(ctx context.Context, orgUser, org, me string, msg itip.Message) error {
	if err := t.s.Dir.Prepare(ctx, orgUser, t.req.Meta); err != nil {
		return err
	}
	sched := &engine.Schedule{Method: string(msg.Method), Originator: msg.Originator, Recipient: org, RecipientUser: orgUser, Status: "1.2"}
	if err := t.inbox(orgUser, msg.Calendar, sched); err != nil {
		return err
	}
	path, name, err := t.s.findCopy(t.v, orgUser, uidOf(msg.Calendar))
	if err != nil || path == "" {
		return err
	}
	o, err := t.v.Object(path, name, true)
	if err != nil {
		return fmt.Errorf("read %s%s: %w", path, name, err)
	}
	orgCopy, err := engine.ParseCalendar(o.Body)
	if err != nil {
		return nil // the organizer's copy is not ours to repair
	}
	updated, others, err := itip.ApplyReply(orgCopy, msg.Calendar, me, t.opts)
	if err != nil {
		return err
	}
	if updated != orgCopy {
		if err := t.write(path, name, o.ETag, updated, sched); err != nil {
			return err
		}
	}
	for _, m := range others {
		if _, err := t.deliver(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// deliver delivers m to its recipient when a local user has the address,
// and returns the SCHEDULE-STATUS.
func (t *step) deliver(ctx context.Context, m itip.Message) (string, error) {
	user, err := t.user(m.Recipient)
	if err != nil {
		return "", err
	}
	if user == "" {
		return t.email(m)
	}
	if user == t.req.User {
		return "1.2", nil
	}
	if ok, err := t.s.mayDeliver(t.v, t.req.User, user); err != nil || !ok {
		return "3.8", err
	}
	if err := t.s.Dir.Prepare(ctx, user, t.req.Meta); err != nil {
		return "", err
	}
	sched := &engine.Schedule{Method: string(m.Method), Originator: m.Originator, Recipient: m.Recipient, RecipientUser: user, Status: "1.2"}
	if err := t.inbox(user, m.Calendar, sched); err != nil {
		return "", err
	}
	path, name, err := t.s.findCopy(t.v, user, uidOf(m.Calendar))
	if err != nil {
		return "", err
	}
	var cur *ical.Calendar
	etag := ""
	if path != "" {
		o, err := t.v.Object(path, name, true)
		if err != nil {
			return "", fmt.Errorf("read %s%s: %w", path, name, err)
		}
		if cur, err = engine.ParseCalendar(o.Body); err != nil {
			return "1.2", nil // delivered to the inbox; the copy is the user's to repair
		}
		etag = o.ETag
	}
	updated, err := itip.ApplyToAttendeeCopy(cur, m.Calendar, m.Recipient, t.opts)
	if err != nil {
		return "", err
	}
	if updated == nil || updated == cur {
		return "1.2", nil
	}
	if t.organizing {
		store, reply, ok, err := t.answer(ctx, user, m, updated)
		if err != nil {
			return "", err
		}
		if ok {
			if reply != nil {
				t.answers = append(t.answers, *reply)
			}
			if store == nil { // declined: no copy to count as busy
				if path != "" {
					t.writes = append(t.writes, engine.ScheduledWrite{Path: path, Name: name, IfMatch: etag, Meta: t.meta(sched), Schedule: sched})
				}
				return "1.2", nil
			}
			updated = store
		}
	}
	if path == "" {
		if path, err = t.s.Dir.DefaultCalendar(t.v, user); err != nil {
			return "", err
		}
		name = objectName(uidOf(m.Calendar))
	}
	return "1.2", t.write(path, name, etag, updated, sched)
}

// email queues m as an iMIP message when Email is set and the recipient
// is a mailto: address, and returns the SCHEDULE-STATUS: 1.1 (sent), else
// 3.7 (invalid calendar user).
func (t *step) email(m itip.Message) (string, error) {
	if !t.s.Email || !strings.HasPrefix(m.Recipient, "mailto:") || !strings.HasPrefix(m.Originator, "mailto:") {
		return "3.7", nil
	}
	body, err := Encode(m.Calendar)
	if err != nil {
		return "", err
	}
	t.writes = append(t.writes, engine.ScheduledWrite{Meta: t.meta(&engine.Schedule{Method: string(m.Method), Originator: m.Originator, Recipient: m.Recipient}),
		IMIP: &engine.IMIP{Method: string(m.Method), Originator: m.Originator, Recipient: m.Recipient, User: t.req.User,
			UID: uidOf(m.Calendar), Calendar: body}})
	return "1.1", nil
}

// inbox adds the delivery of msg into user's inbox.
func (t *step) inbox(user string, msg *ical.Calendar, sched *engine.Schedule) error {
	body, err := Encode(msg)
	if err != nil {
		return err
	}
	name := randomName()
	if t.s.NewName != nil {
		name = t.s.NewName()
	}
	t.writes = append(t.writes, engine.ScheduledWrite{Path: t.s.Dir.Inbox(user), Name: name, Body: body,
		IfNoneMatch: true, Meta: t.meta(sched), Schedule: sched})
	t.delivered++
	return nil
}

// write adds the put of a recipient's calendar object (a new one when
// etag is "").
func (t *step) write(path, name, etag string, cal *ical.Calendar, sched *engine.Schedule) error {
	cal.Props.Del(ical.PropMethod)
	body, err := Encode(cal)
	if err != nil {
		return err
	}
	t.writes = append(t.writes, engine.ScheduledWrite{Path: path, Name: name, Body: body,
		IfMatch: etag, IfNoneMatch: etag == "", Meta: t.meta(sched), Schedule: sched})
	return nil
}

// meta is the Meta of a delivery: the request's, with the reason.
func (t *step) meta(sched *engine.Schedule) engine.Meta {
	m := t.req.Meta
	m.Reason = fmt.Sprintf("scheduling: %s from %s to %s", sched.Method, sched.Originator, sched.Recipient)
	return m
}

// randomName is the name of a message in an inbox.
func randomName() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b) + ".ics"
}

// objectName is the name of a recipient's new copy: the UID when it is a
// safe name, else a hash of it.
func objectName(uid string) string {
	ok := uid != "" && len(uid) <= 200
	for _, c := range uid {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.@", c)) {
			ok = false
		}
	}
	if ok && uid != "." && uid != ".." {
		return uid + ".ics"
	}
	return randomName()
}

// CopyMove is a MOVE or COPY of a calendar object between calendars.
type CopyMove struct {
	// Body is the object's content.
	Body []byte
	// From and To are the owners of the source and the destination
	// calendars.
	From, To string
	// Copy is set for a COPY.
	Copy bool
	// Replaces is set when an object exists at the destination, and
	// ReplacesScheduling when it is a scheduling object.
	Replaces, ReplacesScheduling bool
}

// CheckCopyMove judges a MOVE or COPY of a calendar object before the
// engine makes it; it sends nothing. As Apple's CalendarServer does, a
// scheduling object of From's moves between From's own calendars without
// a message (the attendees' copies stay as they are; later changes
// schedule from its new place), but a COPY, or a MOVE over an existing
// object, would make a second object of the UID or replace one without
// its CANCEL (ErrUniqueObject, RFC 6638 §3.2.4.1), and so would any MOVE
// or COPY over a scheduling object. A MOVE into another user's calendar
// (a calendar shared with From) would take the organizer's or attendee's
// object out of their home without telling anyone:
// *itip.PreconditionError allowed-organizer-scheduling-object-change or
// allowed-attendee-scheduling-object-change; a client PUTs it there and
// DELETEs it here instead, which schedule.
func (s *Scheduler) CheckCopyMove(v *engine.View, m CopyMove) error {
	verb := "MOVE"
	if m.Copy {
		verb = "COPY"
	}
	if m.ReplacesScheduling {
		return fmt.Errorf("%w: a %s over a scheduling object would replace it without scheduling", ErrUniqueObject, verb)
	}
	cal, err := engine.ParseCalendar(m.Body)
	if err != nil {
		return nil
	}
	mine, err := s.Dir.Addresses(v, m.From)
	if err != nil {
		return err
	}
	role, _, err := itip.RoleOf(cal, mine)
	if err != nil || role == itip.RoleNone {
		return nil // stored before it could be judged, or not From's to schedule
	}
	switch {
	case m.Copy:
		return fmt.Errorf("%w: a COPY would make a second scheduling object of the UID %s", ErrUniqueObject, uidOf(cal))
	case m.From != m.To:
		cond := itip.ErrOrganizerChange.Cond
		if role == itip.RoleAttendee {
			cond = itip.ErrAttendeeChange.Cond
		}
		return &itip.PreconditionError{Cond: cond, Reason: fmt.Sprintf("a scheduling object of %s cannot be moved into a calendar of %s: PUT it there and DELETE it here", m.From, m.To)}
	case m.Replaces:
		return fmt.Errorf("%w: a MOVE of a scheduling object over an existing object", ErrUniqueObject)
	}
	return nil
}

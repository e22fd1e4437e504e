package engine

import (
	"context"
	"fmt"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
)

// Email invitations (iMIP, RFC 6047): a scheduling write whose message
// goes to an address no local user has appends an OpIMIPQueued event in
// the same step (ScheduledWrite.IMIP), so the message is queued exactly
// when the write commits. The log is the outbox: package imip reads it
// from its cursor (IMIPCursor), sends, and moves the cursor. The events
// change no projection but the owner index: an email is an event of the
// user it is sent for (IMIP.User), so their feed subscription and history
// (View.ReadableLog) show it, and no other user's does.

// IMIPCursor is the Cursor name of the iMIP sender.
const IMIPCursor = "imip"

// MaxIMIPSize bounds the iTIP object of one iMIP message.
const MaxIMIPSize = 1 << 20

// IMIP is an email invitation, reply or cancellation (Event.IMIP).
type IMIP struct {
	Method     string // REQUEST, ADD, CANCEL or REPLY
	Originator string // the sender's mailto: address
	Recipient  string // the recipient's mailto: address, no local user's
	User       string // the local user it is sent for
	UID        string // the calendar object's UID
	Calendar   []byte // the iTIP object
	// QueuedSeq and Status are set on OpIMIPFailed: the message given up
	// on and why.
	QueuedSeq Seq
	Status    string
}

func (m *IMIP) toProto() *eventv1.IMIP {
	return &eventv1.IMIP{Method: m.Method, Originator: m.Originator, Recipient: m.Recipient, User: m.User,
		Uid: m.UID, Calendar: m.Calendar, QueuedSeq: uint64(m.QueuedSeq), Status: m.Status}
}

func imipFromProto(p *eventv1.IMIP) *IMIP {
	if p == nil {
		return nil
	}
	return &IMIP{Method: p.Method, Originator: p.Originator, Recipient: p.Recipient, User: p.User,
		UID: p.Uid, Calendar: p.Calendar, QueuedSeq: Seq(p.QueuedSeq), Status: p.Status}
}

// checkIMIP bounds a message to queue.
func checkIMIP(m *IMIP) error {
	if m.Method == "" || m.Originator == "" || m.Recipient == "" {
		return fmt.Errorf("%w: an iMIP message needs a method, an originator and a recipient", ErrInvalidName)
	}
	if len(m.Calendar) > MaxIMIPSize {
		return invalid(CondMaxResourceSize, "an iMIP message of %d bytes exceeds the limit of %d", len(m.Calendar), MaxIMIPSize)
	}
	return nil
}

// IMIPFailed records that the iMIP message of the OpIMIPQueued event
// queued was given up on, and why (an OpIMIPFailed event).
func (db *DB) IMIPFailed(ctx context.Context, m Meta, queued Seq, msg *IMIP, status string) error {
	f := *msg
	f.Calendar, f.QueuedSeq, f.Status = nil, queued, status
	return db.submit(ctx, &imipCmd{m: m, ev: &eventv1.Event{Op: eventv1.Op_OP_IMIP_FAILED, Imip: f.toProto()}})
}

type imipCmd struct {
	m  Meta
	ev *eventv1.Event
}

func (c *imipCmd) run(tx *txn) error { return tx.append(c.m, c.ev) }

// indexIMIPUser records an iMIP event in the owner index of the user it
// is sent for (none when it is sent for no user).
func indexIMIPUser(rw readWriter, ev *eventv1.Event) error {
	if u := ev.GetImip().GetUser(); u != "" {
		return rw.Set(keys.OwnerLogKey(u, ev.Seq), nil, nil)
	}
	return nil
}

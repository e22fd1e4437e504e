package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/almanac/almanac/engine/internal/keys"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Field numbers of statev1.Object (proto/almanac/state/v1/state.proto).
const (
	objEtag          = 1
	objSeq           = 2
	objUID           = 3
	objContentType   = 4
	objSize          = 5
	objModified      = 6
	objEnvelopeStart = 7
	objEnvelopeEnd   = 8
	objComponent     = 9
	objCreated       = 10
	objDead          = 11
	objBodySeq       = 12
	objScheduleTag   = 13
)

// eventBody is the field number of eventv1.Event's body.
const eventBody = 15

// errHasDead sends a record with dead properties to the generic decoder.
var errHasDead = errors.New("engine: object record has dead properties")

// decodeObject turns an object record into an Object without building the
// intermediate protobuf message: listings of large collections decode one
// record per member, and this halves their allocations. Records with dead
// properties (rare) take the generic path.
func decodeObject(name string, b []byte) (*Object, error) {
	o := new(Object)
	if err := decodeObjectInto(o, name, b); err != nil {
		return nil, err
	}
	return o, nil
}

// decodeObjectInto is decodeObject into o, which it overwrites.
func decodeObjectInto(o *Object, name string, b []byte) error {
	return decodeObjectNamed(o, name, nil, b)
}

// decodeObjectNamed is decodeObjectInto for the name given as a string,
// or when nameb is not nil as the bytes of a key. The strings of the
// record (and the name, from nameb) are copied out in one allocation, one
// string they all slice, instead of one each: a listing decodes a record
// per member.
func decodeObjectNamed(o *Object, name string, nameb, b []byte) error {
	var st, en int64
	var etag, uid, stag []byte
	*o = Object{Name: name}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("engine: object %s: %w", name, protowire.ParseError(n))
		}
		b = b[n:]
		if num == objDead {
			return errHasDead
		}
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("engine: object %s: %w", name, protowire.ParseError(n))
			}
			b = b[n:]
			switch num {
			case objSeq:
				o.Seq = Seq(v)
			case objSize:
				o.Size = int64(v)
			case objModified:
				o.Modified = unixNano(int64(v))
			case objEnvelopeStart:
				st = int64(v)
			case objEnvelopeEnd:
				en = int64(v)
			case objCreated:
				o.Created = unixNano(int64(v))
			case objBodySeq:
				o.bodySeq = Seq(v)
			}
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("engine: object %s: %w", name, protowire.ParseError(n))
			}
			b = b[n:]
			switch num {
			case objEtag:
				etag = v
			case objUID:
				uid = v
			case objContentType:
				o.ContentType = intern(v)
			case objComponent:
				o.Component = intern(v)
			case objScheduleTag:
				stag = v
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("engine: object %s: %w", name, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	o.Envelope = envelopeFromProto(st, en)
	var sb strings.Builder
	sb.Grow(len(nameb) + len(etag) + len(uid) + len(stag))
	sb.Write(nameb)
	sb.Write(etag)
	sb.Write(uid)
	sb.Write(stag)
	all := sb.String()
	if nameb != nil {
		o.Name, all = all[:len(nameb)], all[len(nameb):]
	}
	o.ETag, all = all[:len(etag)], all[len(etag):]
	o.UID, o.ScheduleTag = all[:len(uid)], all[len(uid):]
	return nil
}

// listObject decodes a listed object record, fast when it can.
func listObject(name string, b []byte) (*Object, error) {
	o, err := decodeObject(name, b)
	if err != errHasDead {
		return o, err
	}
	var p statev1.Object
	if err := proto.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("engine: decode object %s: %w", name, err)
	}
	return objectFromProto(name, &p), nil
}

// intern returns the common content types and component names without
// allocating.
func intern(b []byte) string {
	switch string(b) {
	case ContentTypeCalendar:
		return ContentTypeCalendar
	case ContentTypeVCard:
		return ContentTypeVCard
	case "VEVENT":
		return "VEVENT"
	case "VTODO":
		return "VTODO"
	case "VJOURNAL":
		return "VJOURNAL"
	case "VCARD":
		return "VCARD"
	case CompAvailability:
		return CompAvailability
	}
	return string(b)
}

// bodyAt returns a copy of the body held by the log record of event seq:
// an object's body lives only there (its record's body_seq names it).
func bodyAt(r getter, seq Seq) ([]byte, error) {
	rec, closer, err := r.Get(keys.LogKey(uint64(seq)))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("engine: body at seq %d: log record %w", seq, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("engine: body at seq %d: %w", seq, err)
	}
	defer closer.Close()
	return eventBodyOf(rec, seq)
}

// eventBodyOf returns a copy of the body field of an encoded event without
// decoding the rest of it; nil when the event has none (or it was erased).
func eventBodyOf(rec []byte, seq Seq) ([]byte, error) {
	body, _, _, err := findBody(rec, seq)
	if body == nil || err != nil {
		return nil, err
	}
	return append([]byte(nil), body...), nil
}

// findBody returns the body field of an encoded event, in place, and the
// span [start, end) of the whole field (tag and length included) in rec;
// a nil body when the event has none.
func findBody(rec []byte, seq Seq) (body []byte, start, end int, err error) {
	for off := 0; off < len(rec); {
		num, typ, n := protowire.ConsumeTag(rec[off:])
		if n < 0 {
			return nil, 0, 0, fmt.Errorf("engine: body at seq %d: %w", seq, protowire.ParseError(n))
		}
		if num == eventBody && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(rec[off+n:])
			if m < 0 {
				return nil, 0, 0, fmt.Errorf("engine: body at seq %d: %w", seq, protowire.ParseError(m))
			}
			return v, off, off + n + m, nil
		}
		m := protowire.ConsumeFieldValue(num, typ, rec[off+n:])
		if m < 0 {
			return nil, 0, 0, fmt.Errorf("engine: body at seq %d: %w", seq, protowire.ParseError(m))
		}
		off += n + m
	}
	return nil, 0, 0, nil
}

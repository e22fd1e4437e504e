package engine

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

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
	var f objectStrings
	if err := decodeObjectFields(o, name, b, &f); err != nil {
		return err
	}
	var sb strings.Builder
	sb.Grow(len(nameb) + len(f.etag) + len(f.uid) + len(f.stag))
	sb.Write(nameb)
	sb.Write(f.etag)
	sb.Write(f.uid)
	sb.Write(f.stag)
	f.set(o, sb.String(), nameb != nil, len(nameb))
	return nil
}

// decodeObjectArena is decodeObjectInto with the record's strings copied
// into *arena, a buffer only appended to, instead of an allocation each:
// when it lacks room it is replaced by a new one of at least chunk bytes,
// and the bytes of the one before stay as they were, so that the strings
// that slice them never change. A multiget's hundred objects then share
// one or two allocations instead of a hundred.
func decodeObjectArena(o *Object, name string, b []byte, arena *[]byte, chunk int) error {
	var f objectStrings
	if err := decodeObjectFields(o, name, b, &f); err != nil {
		return err
	}
	n := len(f.etag) + len(f.uid) + len(f.stag)
	if n == 0 {
		f.set(o, "", false, 0)
		return nil
	}
	if cap(*arena)-len(*arena) < n {
		*arena = make([]byte, 0, max(n, chunk))
	}
	start := len(*arena)
	*arena = append(append(append(*arena, f.etag...), f.uid...), f.stag...)
	f.set(o, unsafe.String(&(*arena)[start], n), false, 0)
	return nil
}

// decodeObjectTransient is decodeObjectNamed for a listing whose caller
// is done with each member before the next: the strings are copied into
// buf, reused from one member to the next, and slice it without an
// allocation; they are valid until buf is written again. It returns buf.
func decodeObjectTransient(o *Object, nameb, b, buf []byte) ([]byte, error) {
	var f objectStrings
	if err := decodeObjectFields(o, "", b, &f); err != nil {
		return buf, err
	}
	buf = append(append(append(append(buf[:0], nameb...), f.etag...), f.uid...), f.stag...)
	f.set(o, unsafe.String(unsafe.SliceData(buf), len(buf)), true, len(nameb))
	return buf, nil
}

// objectStrings are the string fields of an object record, in place in
// the record.
type objectStrings struct{ etag, uid, stag []byte }

// set gives o its strings out of all, which holds the name (when named,
// nameLen bytes), the ETag, the UID and the schedule tag in that order.
func (f *objectStrings) set(o *Object, all string, named bool, nameLen int) {
	if named {
		o.Name, all = all[:nameLen], all[nameLen:]
	}
	o.ETag, all = all[:len(f.etag)], all[len(f.etag):]
	o.UID, o.ScheduleTag = all[:len(f.uid)], all[len(f.uid):]
}

// decodeObjectFields overwrites o with the record b of object name but
// for the strings, which it leaves in f. Tags, lengths and small numbers
// take one byte in a record, and are read here without a call.
func decodeObjectFields(o *Object, name string, b []byte, f *objectStrings) error {
	var st, en int64
	*o = Object{Name: name}
	for i := 0; i < len(b); {
		tag, j := uint64(b[i]), i+1
		if tag >= 0x80 {
			tag, j = uvarint(b, i)
		}
		if j < 0 {
			return fmt.Errorf("engine: object %s: %w", name, protowire.ParseError(j))
		}
		if tag>>3 < uint64(protowire.MinValidNumber) || tag>>3 > uint64(protowire.MaxValidNumber) {
			return fmt.Errorf("engine: object %s: field number %d: %w", name, tag>>3, protowire.ParseError(-1))
		}
		num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
		if num == objDead {
			return errHasDead
		}
		// A varint's value or a string's length.
		var v uint64
		k := j + 1
		if typ == protowire.VarintType || typ == protowire.BytesType {
			if j < len(b) && b[j] < 0x80 {
				v = uint64(b[j])
			} else if v, k = uvarint(b, j); k < 0 {
				return fmt.Errorf("engine: object %s: %w", name, protowire.ParseError(k))
			}
		}
		switch typ {
		case protowire.VarintType:
			i = k
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
			if v > uint64(len(b)-k) {
				return fmt.Errorf("engine: object %s: %w", name, protowire.ParseError(-1))
			}
			str := b[k : k+int(v) : k+int(v)]
			i = k + int(v)
			switch num {
			case objEtag:
				f.etag = str
			case objUID:
				f.uid = str
			case objContentType:
				o.ContentType = intern(str)
			case objComponent:
				o.Component = intern(str)
			case objScheduleTag:
				f.stag = str
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b[j:])
			if n < 0 {
				return fmt.Errorf("engine: object %s: %w", name, protowire.ParseError(n))
			}
			i = j + n
		}
	}
	o.Envelope = envelopeFromProto(st, en)
	return nil
}

// uvarint reads the varint at b[i:], returning it and the offset after
// it, or a negative offset (a protowire error code) when it is malformed.
// decodeObjectFields and findBody read a one-byte varint (the tags,
// lengths and small numbers of a record) themselves, without the call.
func uvarint(b []byte, i int) (uint64, int) {
	v, n := protowire.ConsumeVarint(b[i:])
	if n < 0 {
		return 0, n
	}
	return v, i + n
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
	body, err := findBody(rec, seq)
	if body == nil || err != nil {
		return nil, err
	}
	return append([]byte(nil), body...), nil
}

// findBody returns the body field of an encoded event, in place; a nil
// body when the event has none.
func findBody(rec []byte, seq Seq) ([]byte, error) {
	for off := 0; off < len(rec); {
		// A string or a varint under a tag of one byte (fields 1-15: the
		// body and every field an event has before it) is read here, the
		// rest through protowire: protowire's calls cost a multiget as
		// much as its reads of the object records.
		if t := rec[off]; t >= 1<<3 && t < 0x80 && (t&7 == byte(protowire.BytesType) || t&7 == byte(protowire.VarintType)) {
			v, k := uint64(0), off+2
			if off+1 < len(rec) && rec[off+1] < 0x80 {
				v = uint64(rec[off+1])
			} else {
				v, k = uvarint(rec, off+1)
			}
			switch {
			case k < 0:
				return nil, fmt.Errorf("engine: body at seq %d: %w", seq, protowire.ParseError(k))
			case t&7 == byte(protowire.VarintType):
				off = k
			case v > uint64(len(rec)-k):
				return nil, fmt.Errorf("engine: body at seq %d: %w", seq, protowire.ParseError(-1))
			case t>>3 == eventBody:
				return rec[k : k+int(v)], nil
			default:
				off = k + int(v)
			}
			continue
		}
		num, typ, n := protowire.ConsumeTag(rec[off:])
		if n < 0 {
			return nil, fmt.Errorf("engine: body at seq %d: %w", seq, protowire.ParseError(n))
		}
		if num == eventBody && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(rec[off+n:])
			if m < 0 {
				return nil, fmt.Errorf("engine: body at seq %d: %w", seq, protowire.ParseError(m))
			}
			return v, nil
		}
		m := protowire.ConsumeFieldValue(num, typ, rec[off+n:])
		if m < 0 {
			return nil, fmt.Errorf("engine: body at seq %d: %w", seq, protowire.ParseError(m))
		}
		off += n + m
	}
	return nil, nil
}

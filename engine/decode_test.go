package engine

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// TestDecodeObject: the hand-written decoder agrees with the generic one
// on every field, and knows every field of the record.
func TestDecodeObject(t *testing.T) {
	t.Parallel()
	if n := (&statev1.Object{}).ProtoReflect().Descriptor().Fields().Len(); n != objScheduleTag {
		t.Fatalf("statev1.Object has %d fields; teach decodeObject the new ones", n)
	}
	recs := []*statev1.Object{
		{Etag: `"1-a"`, Seq: 7, Uid: "u", ContentType: ContentTypeCalendar, Size: 123, ModifiedUnixNano: 1e18,
			EnvelopeStart: -5, EnvelopeEnd: math.MaxInt64, Component: "VEVENT", CreatedUnixNano: 9e17, BodySeq: 6, ScheduleTag: `"1-a"`},
		{Etag: `"2"`, ContentType: "text/x-other", EnvelopeStart: math.MinInt64, EnvelopeEnd: 1700000000},
		{Etag: `"3"`, Dead: map[string]string{"{urn:x}k": "<k/>"}},
		{},
	}
	for i, r := range recs {
		b, err := proto.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := listObject("n", b)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if diff := cmp.Diff(objectFromProto("n", r), got, cmp.AllowUnexported(Object{})); diff != "" {
			t.Errorf("record %d (-generic +fast):\n%s", i, diff)
		}
		if r.Dead != nil {
			continue
		}
		var tr Object
		if _, err := decodeObjectTransient(&tr, []byte("n"), b, nil); err != nil {
			t.Fatalf("record %d, transient: %v", i, err)
		}
		if diff := cmp.Diff(objectFromProto("n", r), &tr, cmp.AllowUnexported(Object{})); diff != "" {
			t.Errorf("record %d (-generic +transient):\n%s", i, diff)
		}
	}
	for _, bad := range [][]byte{
		{0xff},            // a tag cut short
		{0x00, 0x01},      // field number 0
		{0x0a, 0x05, 'a'}, // an ETag longer than the record
		{0x10},            // a seq without its value
		{0x10, 0x80},      // a seq cut short
		{0x0b},            // a group that does not end
		{0xf8, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00}, // a field number beyond 2^29-1
	} {
		if o, err := listObject("n", bad); err == nil {
			t.Errorf("the malformed record %x decoded: %+v", bad, o)
		}
		if _, err := decodeObjectTransient(new(Object), []byte("n"), bad, nil); err == nil {
			t.Errorf("the malformed record %x decoded transiently", bad)
		}
	}
}

// TestObjectsTransient: the members and every field of each are what
// Objects gives, in the same order, though one Object and one buffer
// carry them all (each is copied before the next is asked for); a record
// with dead properties comes through the generic decoder, and a missing
// collection gives ErrNotFound.
func TestObjectsTransient(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	putBulkObjects(t, db, "c", "a", "bbb", "dd", "e")
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var want, got []Object
	for o, err := range v.Objects("/alice/cal/", ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, *o)
	}
	for o, err := range v.ObjectsTransient("/alice/cal/") {
		if err != nil {
			t.Fatal(err)
		}
		c := *o
		c.Name, c.ETag, c.UID, c.ScheduleTag = strings.Clone(o.Name), strings.Clone(o.ETag), strings.Clone(o.UID), strings.Clone(o.ScheduleTag)
		got = append(got, c)
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(Object{})); diff != "" {
		t.Fatalf("(-Objects +ObjectsTransient):\n%s", diff)
	}
	if got[3].Dead == nil {
		t.Error("dd.ics came without its dead property")
	}
	n := 0
	for _, err := range v.ObjectsTransient("/alice/missing/") {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("missing collection: %v", err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("missing collection yielded %d times, want 1", n)
	}
}

// TestEventBodyOf: the body comes out of an encoded event whatever fields
// surround it; an event without one yields nil, a malformed one an error.
func TestEventBodyOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ev   *eventv1.Event
		want string
	}{
		{&eventv1.Event{Seq: 9, Actor: "alice", Object: "a.ics", Body: []byte("BEGIN:VCALENDAR"), Uid: "u",
			ObjectProps: map[string]string{"{x}y": "<y/>"}, EnvelopeEnd: 5}, "BEGIN:VCALENDAR"},
		{&eventv1.Event{Seq: 9, Op: eventv1.Op_OP_OBJECT_DELETED}, ""},
	} {
		rec, err := proto.Marshal(tc.ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := eventBodyOf(rec, 9)
		if err != nil || string(got) != tc.want {
			t.Errorf("eventBodyOf(%v) = %q, %v; want %q", tc.ev, got, err, tc.want)
		}
	}
	if _, err := eventBodyOf([]byte{0x7a, 0xff}, 9); err == nil {
		t.Error("a malformed event yielded a body")
	}
}

// FuzzDecodeForApply: a replay's decoder agrees with proto.Unmarshal on
// every field but the ones apply does not read, and gives the body's
// length; records proto.Unmarshal refuses it refuses too, but for strings
// that are not UTF-8 in the fields it skips.
func FuzzDecodeForApply(f *testing.F) {
	for _, ev := range []*eventv1.Event{
		{Seq: 1, Op: eventv1.Op_OP_OBJECT_PUT, CollectionId: 3, CollectionPath: "/a/cal/", Object: "x.ics",
			Etag: `"1-a"`, Body: []byte("BEGIN:VCALENDAR"), Uid: "u", Actor: "alice", UserAgent: "DAVx5", RequestId: "r1",
			Reason: "restore", ObjectProps: map[string]string{"{urn:x}k": "<k/>"}},
		{Seq: 2, Op: eventv1.Op_OP_OBJECT_DELETED, Actor: "bob"},
		{},
	} {
		b, err := proto.Marshal(ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		var got, want eventv1.Event
		n, _, err := decodeForApply(rec, 1, &got, nil)
		werr := proto.Unmarshal(rec, &want)
		if err == nil && werr != nil && strings.Contains(werr.Error(), "invalid UTF-8") {
			return // in a string the replay skips, and so does not check
		}
		if (err != nil) != (werr != nil) {
			t.Fatalf("decodeForApply: %v; proto.Unmarshal: %v", err, werr)
		}
		if err != nil {
			return
		}
		if n != len(want.Body) {
			t.Errorf("body length %d, want %d", n, len(want.Body))
		}
		want.Body, want.Actor, want.UserAgent, want.RequestId, want.Reason = nil, "", "", "", ""
		if !proto.Equal(&got, &want) {
			t.Errorf("decoded %v, want %v", &got, &want)
		}
	})
}

// FuzzDecodeObject: on any bytes, the transient decoder agrees with the
// one that allocates (both refuse, or both give the same object), and
// what they decode agrees with proto.Unmarshal when it accepts the
// record too (it also checks that strings are UTF-8, which they do not).
func FuzzDecodeObject(f *testing.F) {
	for _, r := range []*statev1.Object{
		{Etag: `"1-a"`, Seq: 7, Uid: "u", ContentType: ContentTypeCalendar, Size: 123, ModifiedUnixNano: 1e18,
			EnvelopeStart: -5, EnvelopeEnd: math.MaxInt64, Component: "VEVENT", CreatedUnixNano: 9e17, BodySeq: 6, ScheduleTag: `"1-a"`},
		{Etag: `"2"`, ContentType: "text/x-other", EnvelopeStart: math.MinInt64, EnvelopeEnd: 1700000000},
	} {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var named, tr Object
		errNamed := decodeObjectNamed(&named, "", []byte("n"), b)
		_, errTr := decodeObjectTransient(&tr, []byte("n"), b, nil)
		if (errNamed == nil) != (errTr == nil) {
			t.Fatalf("decodeObjectNamed: %v; decodeObjectTransient: %v", errNamed, errTr)
		}
		if errNamed != nil {
			return
		}
		if diff := cmp.Diff(&named, &tr, cmp.AllowUnexported(Object{})); diff != "" {
			t.Fatalf("(-named +transient):\n%s", diff)
		}
		var p statev1.Object
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		if diff := cmp.Diff(objectFromProto("n", &p), &named, cmp.AllowUnexported(Object{})); diff != "" {
			t.Fatalf("(-proto +fast):\n%s", diff)
		}
	})
}

// FuzzFindBody: findBody agrees with a reading of every field through
// protowire on any bytes: the same body (or none), or an error from both.
func FuzzFindBody(f *testing.F) {
	for _, ev := range []*eventv1.Event{
		{Seq: 1 << 20, TimeUnixNano: 1.8e18, Op: eventv1.Op_OP_OBJECT_PUT, CollectionId: 3, CollectionPath: "/a/cal/", Object: "x.ics",
			Etag: `"1-a"`, PreviousEtag: `"0-a"`, Body: []byte("BEGIN:VCALENDAR"), Uid: "u", Actor: "alice", UserAgent: "DAVx5", RequestId: "r1"},
		{Seq: 2, Op: eventv1.Op_OP_OBJECT_DELETED, Actor: "bob", EnvelopeStart: -1, ObjectProps: map[string]string{"{urn:x}k": "<k/>"}},
		{Body: bytes.Repeat([]byte("x"), 300)},
	} {
		b, err := proto.Marshal(ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		got, err := findBody(rec, 1)
		want, werr := findBodyProtowire(rec)
		if (err != nil) != (werr != nil) || !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("findBody(%x) = %q, %v; want %q, %v", rec, got, err, want, werr)
		}
	})
}

// findBodyProtowire is findBody through protowire's calls alone.
func findBodyProtowire(rec []byte) ([]byte, error) {
	for off := 0; off < len(rec); {
		num, typ, n := protowire.ConsumeTag(rec[off:])
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, rec[off+n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		if num == eventBody && typ == protowire.BytesType {
			body, _ := protowire.ConsumeBytes(rec[off+n:])
			return body, nil
		}
		off += n + m
	}
	return nil, nil
}

package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestPutObjects checks that PutObjects gives each put the outcome
// PutObject would have given it, one after the other: a put sees the puts
// before it in the same call (a second If-None-Match on a name fails, a
// UID taken by an earlier put conflicts, an If-Match on the ETag an
// earlier put will get is unknown to the caller and fails), a bad body
// fails alone, and every stored object has the ETag its result says.
func TestPutObjects(t *testing.T) {
	db := MustOpen(t)
	c := MustCalendar(t, db)
	puts := []ObjectPut{
		{Name: "a.ics", Body: event("a"), Opts: PutOptions{IfNoneMatch: true}},
		{Name: "b.ics", Body: event("b"), Opts: PutOptions{IfNoneMatch: true}},
		{Name: "a.ics", Body: event("a"), Opts: PutOptions{IfNoneMatch: true}}, // a exists now
		{Name: "c.ics", Body: event("b")},                                      // b's UID
		{Name: "d.ics", Body: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")},  // invalid
		{Name: "e.ics", Body: event("e"), Opts: PutOptions{IfMatch: "*"}},      // e does not exist
		{Name: "b.ics", Body: event("b"), Opts: PutOptions{IfMatch: "*"}},      // b does
		{Name: "../x", Body: event("x")},                                       // bad name
	}
	res, errs := db.PutObjects(ctx, alice, c.Path, puts)
	var mismatch *ETagMismatchError
	var conflict *UIDConflictError
	var bad *InvalidDataError
	for i, ok := range []bool{
		errs[0] == nil && res[0].Created,
		errs[1] == nil && res[1].Created,
		errors.As(errs[2], &mismatch),
		errors.As(errs[3], &conflict) && conflict.Href == c.Path+"b.ics",
		errors.As(errs[4], &bad),
		errors.As(errs[5], &mismatch),
		errs[6] == nil && !res[6].Created && res[6].ETag != res[1].ETag,
		errors.Is(errs[7], ErrInvalidName),
	} {
		if !ok {
			t.Errorf("put %d (%s): result %+v, error %v", i, puts[i].Name, res[i], errs[i])
		}
	}
	for _, i := range []int{0, 6} {
		o, err := db.Object(c.Path, puts[i].Name, false)
		if err != nil || o.ETag != res[i].ETag {
			t.Errorf("%s: stored %+v (%v), put returned ETag %s", puts[i].Name, o, err, res[i].ETag)
		}
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPutObjectsEnded checks that puts not yet handed to the writer when
// the context ends get its error and write nothing, and that a missing
// collection fails every put.
func TestPutObjectsEnded(t *testing.T) {
	db := MustOpen(t)
	c := MustCalendar(t, db)
	ended, cancel := context.WithCancel(ctx)
	cancel()
	puts := make([]ObjectPut, 3)
	for i := range puts {
		puts[i] = ObjectPut{Name: fmt.Sprintf("%d.ics", i), Body: event(fmt.Sprint(i))}
	}
	_, errs := db.PutObjects(ended, alice, c.Path, puts)
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("put %d after cancel: %v", i, err)
		}
		if _, err := db.Object(c.Path, puts[i].Name, false); !errors.Is(err, ErrNotFound) {
			t.Errorf("put %d after cancel was written (%v)", i, err)
		}
	}
	_, errs = db.PutObjects(ctx, alice, "/alice/nothing/", puts)
	for i, err := range errs {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("put %d into a missing collection: %v", i, err)
		}
	}
}

// TestPrepareObject checks that a put PrepareObject validated stores what
// the same put validated by StartPuts stores (UID, component, content
// type, envelope, scheduling, the body without its byte-order mark), that
// PrepareObject refuses what a put refuses, with the same error, and that
// a prepared form serves only the put it was made for: another body (an
// invalid one under the same name), another name (an invalid one) or
// another collection (an address book) is validated as usual and refused.
func TestPrepareObject(t *testing.T) {
	db := MustOpen(t)
	c := MustCalendar(t, db)
	other, book := "/alice/other/", "/alice/book/"
	for path, kind := range map[string]Kind{other: KindCalendar, book: KindAddressBook} {
		if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: path, Kind: kind, Owner: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	body := append([]byte("\uFEFF"), strings.Replace(string(event("p")), "SUMMARY",
		"ORGANIZER:mailto:a@example.com\r\nRRULE:FREQ=DAILY;COUNT=3\r\nSUMMARY", 1)...)
	p, err := db.PrepareObject(c.Path, "p.ics", body, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := db.PutObjects(ctx, alice, c.Path, []ObjectPut{{Name: "p.ics", Body: body, Prepared: p}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if _, err := db.PutObject(ctx, alice, other, "p.ics", body, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	a, errA := db.Object(c.Path, "p.ics", true)
	b, errB := db.Object(other, "p.ics", true)
	if errA != nil || errB != nil || a.UID != b.UID || a.Component != b.Component || a.ContentType != b.ContentType ||
		a.Envelope != b.Envelope || a.Size != b.Size || !bytes.Equal(a.Body, b.Body) || a.ScheduleTag == "" || b.ScheduleTag == "" ||
		a.Envelope.End.IsZero() || bytes.HasPrefix(a.Body, []byte("\uFEFF")) {
		t.Fatalf("prepared put stored %+v (%v)\nunprepared %+v (%v)", a, errA, b, errB)
	}

	bad := []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
	for _, put := range []struct {
		path, name string
		body       []byte
	}{{c.Path, "bad.ics", bad}, {c.Path, "../x", event("x")}, {"/alice/nothing/", "x.ics", event("x")}, {book, "x.ics", event("x")}} {
		_, perr := db.PrepareObject(put.path, put.name, put.body, "")
		_, err := db.PutObject(ctx, alice, put.path, put.name, put.body, PutOptions{})
		if perr == nil || err == nil || perr.Error() != err.Error() {
			t.Errorf("%s%s: prepared %v, put %v", put.path, put.name, perr, err)
		}
	}

	qBody := event("q")
	q, err := db.PrepareObject(c.Path, "q.ics", qBody, "")
	if err != nil {
		t.Fatal(err)
	}
	var invalid *InvalidDataError
	if _, errs := db.PutObjects(ctx, alice, c.Path, []ObjectPut{{Name: "q.ics", Body: bad, Prepared: q}}); !errors.As(errs[0], &invalid) {
		t.Errorf("another body under the prepared name: %v", errs[0])
	}
	if _, errs := db.PutObjects(ctx, alice, c.Path, []ObjectPut{{Name: "../q", Body: qBody, Prepared: q}}); !errors.Is(errs[0], ErrInvalidName) {
		t.Errorf("the prepared body under another name: %v", errs[0])
	}
	if _, errs := db.PutObjects(ctx, alice, book, []ObjectPut{{Name: "q.ics", Body: qBody, Prepared: q}}); !errors.As(errs[0], &invalid) {
		t.Errorf("the prepared put into an address book: %v", errs[0])
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

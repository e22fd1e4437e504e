package engine

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// putBulkObjects makes alice's calendar and puts an event named after
// each uid into it, in the order given (so that log order differs from
// name order), the body's length different for each; dd.ics, which
// must be among them, gets a dead property.
func putBulkObjects(t *testing.T, db *DB, uids ...string) {
	t.Helper()
	MustCalendar(t, db)
	for _, uid := range uids {
		body := fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nSUMMARY:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", uid, bytes.Repeat([]byte(uid), len(uid)))
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", uid+".ics", []byte(body), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.UpdateObjectProps(ctx, alice, "/alice/cal/", "dd.ics", func(dead map[string]string) error {
		dead["{urn:x}k"] = "<k xmlns=\"urn:x\">v</k>"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestObjectsIn: the result is aligned with the names asked, nil for a
// name that does not exist, the same object for a name asked twice; each
// body is the object's own (they share one buffer and must not overlap),
// records with dead properties come through the generic decoder, and
// without bodies none are read.
func TestObjectsIn(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	putBulkObjects(t, db, "c", "a", "bbb", "dd")
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c, err := v.Collection("/alice/cal/")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"dd.ics", "missing.ics", "a.ics", "bbb.ics", "a.ics", "c.ics"}
	sc := &BulkScratch{Bodies: []byte("old contents")}
	objs, err := v.ObjectsIn(c, names, true, sc)
	buf := sc.Bodies[:1]
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(names) {
		t.Fatalf("%d objects for %d names", len(objs), len(names))
	}
	if objs[1] != nil {
		t.Errorf("missing.ics gave %+v", objs[1])
	}
	if objs[2] != objs[4] {
		t.Errorf("a.ics asked twice gave two objects")
	}
	for i, name := range names {
		if i == 1 {
			continue
		}
		o := objs[i]
		if o == nil || o.Name != name {
			t.Fatalf("names[%d] %s gave %+v", i, name, o)
		}
		want, err := v.Object("/alice/cal/", name, true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(o.Body, want.Body) || o.ETag != want.ETag || o.Size != int64(len(o.Body)) {
			t.Errorf("%s: body %q etag %s, want %q %s", name, o.Body, o.ETag, want.Body, want.ETag)
		}
		if cap(o.Body) != len(o.Body) {
			t.Errorf("%s: body has room to grow into the next one", name)
		}
	}
	if objs[0].Dead["{urn:x}k"] == "" {
		t.Errorf("dd.ics lost its dead property: %+v", objs[0].Dead)
	}
	if len(buf) == 0 || &buf[0] != &objs[0].Body[:1][0] && &buf[0] != &objs[2].Body[:1][0] && &buf[0] != &objs[3].Body[:1][0] && &buf[0] != &objs[5].Body[:1][0] {
		t.Errorf("the returned buffer does not hold the bodies")
	}
	// The same scratch again, once done with the first result: nothing of
	// it shows through, and the first result's strings (which share an
	// arena the scratch does not keep) stay as they were.
	kept := []string{objs[2].ETag, objs[2].UID, objs[3].ETag, objs[3].UID}
	wantKept := make([]string, len(kept))
	for i, k := range kept {
		wantKept[i] = strings.Clone(k)
	}
	again := []string{"c.ics", "bbb.ics", "nope.ics"}
	objs, err = v.ObjectsIn(c, again, true, sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 || objs[2] != nil || objs[0] == nil || objs[1] == nil {
		t.Fatalf("reused scratch: %v", objs)
	}
	for i, o := range objs[:2] {
		want, err := v.Object("/alice/cal/", again[i], true)
		if err != nil {
			t.Fatal(err)
		}
		if o.Name != again[i] || !bytes.Equal(o.Body, want.Body) || o.ETag != want.ETag {
			t.Errorf("reused scratch: %s gave %s %q %s", again[i], o.Name, o.Body, o.ETag)
		}
	}
	if !slices.Equal(kept, wantKept) {
		t.Errorf("the first result's strings changed with the second read: %q, want %q", kept, wantKept)
	}
	objs, err = v.ObjectsIn(c, names, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		if o != nil && o.Body != nil {
			t.Errorf("names[%d] read with a body without asking", i)
		}
	}
}

// TestObjectsReused: the members and every field of each (body, dead
// properties, strings) are what Objects gives, in the same order, though
// one Object and one body buffer carry them all; a missing collection
// gives ErrNotFound.
func TestObjectsReused(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	putBulkObjects(t, db, "c", "a", "bbb", "dd", "e")
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, withBody := range []bool{false, true} {
		var want []Object
		for o, err := range v.Objects("/alice/cal/", ListOptions{Bodies: withBody}) {
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, *o)
		}
		var got []Object
		var names []string
		for o, err := range v.ObjectsReused("/alice/cal/", withBody) {
			if err != nil {
				t.Fatal(err)
			}
			c := *o
			c.Body = bytes.Clone(o.Body)
			got = append(got, c)
			names = append(names, o.Name)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("withBody=%v:\n%+v\nwant\n%+v", withBody, got, want)
		}
		if want := []string{"a.ics", "bbb.ics", "c.ics", "dd.ics", "e.ics"}; !slices.Equal(names, want) {
			t.Errorf("names %q, want %q", names, want)
		}
	}
	n := 0
	for _, err := range v.ObjectsReused("/alice/missing/", false) {
		n++
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("a missing collection gave %v", err)
		}
	}
	if n != 1 {
		t.Errorf("a missing collection gave %d results, want one error", n)
	}
}

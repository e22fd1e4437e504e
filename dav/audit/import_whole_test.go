package audit

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/calgen"
)

// wholeFiles are files of collection folders, by kind: objects valid and
// not, several objects in one file, files that cannot be split.
var wholeFiles = map[string][]struct{ name, data string }{
	"calendar": {
		{"one.ics", string(calObject(vevent("one", "one")))},
		{"realistic.ics", string(calgen.Realistic("realistic"))},
		{"override.ics", string(calObject(vevent("ov", "master"),
			strings.Replace(vevent("ov", "moved"), "DTSTAMP", "RECURRENCE-ID:20260112T100000Z\r\nDTSTAMP", 1)))},
		{"two.ics", string(calObject(vevent("two-a", "a"), vevent("two-b", "b")))},                                              // split by UID
		{"bad\xffname.ics", string(calObject(vevent("x-1", "a"), vevent("x-2", "b")))},                                          // split though its name is no object name
		{"method.ics", strings.Replace(string(calObject(vevent("m", "m"))), "VERSION:2.0", "VERSION:2.0\r\nMETHOD:PUBLISH", 1)}, // one object, refused
		{"nouid.ics", strings.Replace(string(calObject(vevent("nouid", "n"))), "UID:nouid\r\n", "", 1)},                         // an item error
		{"garbage.txt", "not a calendar\r\n"},                                                                                   // cannot be split
		{"two-cals.ics", string(calObject(vevent("tc", "a"))) + string(calObject(vevent("tc", "b")))},                           // one UID, two VCALENDARs: refused
		{"card.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:in-a-calendar\r\nFN:A\r\nEND:VCARD\r\n"},                                // a card in a calendar: refused
		{"unchanged.ics", string(calObject(vevent("u", "u")))},
	},
	"addressbook": {
		{"a.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:A\r\nEND:VCARD\r\n"},
		{"ab.vcf", "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:b1\r\nFN:B\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:C\r\nEND:VCARD\r\n"},
		{"old.vcf", "BEGIN:VCARD\r\nVERSION:2.1\r\nUID:old\r\nFN:O\r\nEND:VCARD\r\n"},
		{"garbage.vcf", "BEGIN:VCARD\r\nno colon\r\nEND:VCARD\r\n"},
		{"cal.ics", string(calObject(vevent("in-a-book", "x")))},
	},
}

// TestImportWholeFiles: a collection folder's file handed over whole
// (Item.Whole, as an import into a data directory does, parsed once by
// the engine) gives the outcome the importer's own split gave
// (FileItems with the file's name kept): the same objects under the same
// names with the same bytes, the same errors, the same counts; and an
// import run again changes nothing.
func TestImportWholeFiles(t *testing.T) {
	db := mustOpen(t)
	l := &Local{DB: db, Meta: aliceMeta}
	for _, kind := range []string{"calendar", "addressbook"} {
		split, whole := "/dav/home/alice/"+kind+"-split/", "/dav/home/alice/"+kind+"-whole/"
		var splitItems, wholeItems []Item
		for _, f := range wholeFiles[kind] {
			splitItems = append(splitItems, FileItems(f.name, []byte(f.data), true)...)
			wholeItems = append(wholeItems, Item{Name: f.name, Body: []byte(f.data), Whole: true})
		}
		// The last file's objects are there before, byte for byte.
		for _, p := range []string{split, whole} {
			if _, err := l.Import(ctx, ImportRequest{Collections: []ImportCollection{{Path: p, Kind: kind, Items: slices.Clone(splitItems[len(splitItems)-1:])}}}); err != nil {
				t.Fatal(err)
			}
		}
		report := func(path string, items []Item) (*ImportReport, map[string]string) {
			t.Helper()
			rep, err := l.Import(ctx, ImportRequest{Collections: []ImportCollection{{Path: path, Kind: kind, Items: items}}})
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range rep.Errors {
				rep.Errors[i] = strings.Replace(e, path, "PATH/", 1)
			}
			return rep, storedObjects(t, db, path)
		}
		splitRep, splitObjs := report(split, splitItems)
		wholeRep, wholeObjs := report(whole, wholeItems)
		if fmt.Sprint(splitRep) != fmt.Sprint(wholeRep) {
			t.Errorf("%s: whole files reported\n%+v\nsplit\n%+v", kind, wholeRep, splitRep)
		}
		if !maps.Equal(splitObjs, wholeObjs) {
			t.Errorf("%s: whole files stored\n%v\nsplit\n%v", kind, slices.Sorted(maps.Keys(wholeObjs)), slices.Sorted(maps.Keys(splitObjs)))
		}
		if len(wholeObjs) < 3 || len(wholeRep.Errors) < 3 {
			t.Errorf("%s: the files test too little: %d objects, errors %q", kind, len(wholeObjs), wholeRep.Errors)
		}
		head := db.Head()
		again, _ := report(whole, wholeItems)
		if db.Head() != head || again.Imported != 0 || again.Unchanged != len(wholeObjs) {
			t.Errorf("%s: imported again: %+v, %d events appended", kind, again, db.Head()-head)
		}
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestImportWholeFileAsPut: a file that is one valid object is stored as
// a PUT of it stores it, under its name, even where the split would have
// dropped a component and renamed it: an X- component without UID, which
// PUT accepts.
func TestImportWholeFileAsPut(t *testing.T) {
	db := mustOpen(t)
	mustCalendar(t, db)
	l := &Local{DB: db, Meta: aliceMeta}
	body := calObject(vevent("xu", "x"), "BEGIN:X-THING\r\nX-A:b\r\nEND:X-THING\r\n")
	if items := FileItems("x.ics", body, true); len(items) != 2 || items[1].Name != "xu.ics" {
		t.Fatalf("split into %+v, want an error and xu.ics", items)
	}
	rep, err := l.Import(ctx, ImportRequest{Collections: []ImportCollection{{Path: cal, Kind: "calendar", Items: []Item{{Name: "x.ics", Body: body, Whole: true}}}}})
	if err != nil || rep.Imported != 1 || len(rep.Errors) != 0 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	if got := storedObjects(t, db, cal); len(got) != 1 || got["x.ics"] != string(body) {
		t.Fatalf("stored %q", got)
	}
}

// storedObjects returns the objects of the collection at path, name to body.
func storedObjects(t *testing.T, db *engine.DB, path string) map[string]string {
	t.Helper()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	out := map[string]string{}
	for o, err := range v.Objects(path, engine.ListOptions{Bodies: true}) {
		if err != nil {
			t.Fatal(err)
		}
		out[o.Name] = string(o.Body)
	}
	return out
}

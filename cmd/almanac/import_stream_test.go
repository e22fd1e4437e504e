package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
)

// recordingBackend records what each Import request carries.
type recordingBackend struct {
	audit.Backend
	maxItems, maxBytes int
	got                []string // path+name of every item, in order
	props              map[string]string
}

func (r *recordingBackend) Import(_ context.Context, req audit.ImportRequest) (*audit.ImportReport, error) {
	items, bytes := 0, 0
	for _, c := range req.Collections {
		if r.props[c.Path] != "" && r.props[c.Path] != c.DisplayName+"/"+c.Kind {
			return nil, fmt.Errorf("%s came as %s/%s, before as %s", c.Path, c.DisplayName, c.Kind, r.props[c.Path])
		}
		r.props[c.Path] = c.DisplayName + "/" + c.Kind
		for _, it := range c.Items {
			items++
			bytes += len(it.Body)
			r.got = append(r.got, c.Path+it.Name)
		}
	}
	r.maxItems, r.maxBytes = max(r.maxItems, items), max(r.maxBytes, bytes)
	return &audit.ImportReport{Imported: items}, nil
}

// radicaleTree writes a Radicale root of users users, each with a
// calendar of 7 events and an address book of 3 cards, and returns the
// items an import must hand over, in order.
func radicaleTree(t *testing.T, users int) (root string, want []string) {
	root = t.TempDir()
	for u := range users {
		home := filepath.Join(root, "collection-root", fmt.Sprintf("u%03d", u))
		for _, c := range []struct{ name, tag string }{{"cal", "VCALENDAR"}, {"contacts", "VADDRESSBOOK"}} {
			dir := filepath.Join(home, c.name)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, ".Radicale.props", `{"tag": "`+c.tag+`", "D:displayname": "`+c.name+`"}`)
			n := map[string]int{"cal": 7, "contacts": 3}[c.name]
			for i := range n {
				name := fmt.Sprintf("i%02d", i)
				body := cliEvent(fmt.Sprintf("u%d-%d", u, i), "x")
				if c.tag == "VADDRESSBOOK" {
					body = fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u%d-%d\r\nFN:X\r\nEND:VCARD\r\n", u, i)
				}
				writeFile(t, dir, name, body)
				want = append(want, fmt.Sprintf("/dav/home/u%03d/%s/%s", u, c.name, name))
			}
		}
	}
	return root, want
}

// TestImportBatchesBounded: an import hands the tree to the backend in
// batches within importBatchItems and importBatchBytes, however large the
// tree (as many items in the largest batch for 10 and 40 users: memory
// bounded by the batch, not the tree); every file's item arrives once, in the walk's
// order, and a collection cut across batches keeps its properties and kind
// in each part. Into a data directory batches carry many collections;
// through the admin API one collection, or part of one, a request.
func TestImportBatchesBounded(t *testing.T) {
	defer func(items, bytes int) { importBatchItems, importBatchBytes = items, bytes }(importBatchItems, importBatchBytes)
	importBatchItems, importBatchBytes = 25, 6<<10
	for _, remote := range []bool{false, true} {
		largest := map[int]int{}
		for _, users := range []int{10, 40} {
			root, want := radicaleTree(t, users)
			rec := &recordingBackend{props: map[string]string{}}
			im := &importer{ctx: context.Background(), b: rec, remote: remote}
			if err := im.radicaleRoot(root); err != nil {
				t.Fatal(err)
			}
			if err := im.flush(); err != nil {
				t.Fatal(err)
			}
			if strings.Join(rec.got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("remote %v, %d users: items arrived as\n%s\nwant\n%s", remote, users, rec.got, want)
			}
			if im.total.Imported != len(want) {
				t.Errorf("reports add up to %d imported, want %d", im.total.Imported, len(want))
			}
			for p, v := range rec.props {
				if kind := map[bool]string{true: "addressbook", false: "calendar"}[strings.HasSuffix(p, "/contacts/")]; !strings.HasSuffix(v, "/"+kind) {
					t.Errorf("%s imported as %s, want kind %s", p, v, kind)
				}
			}
			if rec.maxItems > importBatchItems || rec.maxBytes > importBatchBytes {
				t.Errorf("remote %v, %d users: a batch of %d items, %d bytes, over the bounds %d, %d",
					remote, users, rec.maxItems, rec.maxBytes, importBatchItems, importBatchBytes)
			}
			largest[users] = rec.maxItems
		}
		if largest[10] != largest[40] {
			t.Errorf("remote %v: the largest batch grew with the tree: %v at 10 users, %v at 40", remote, largest[10], largest[40])
		}
	}
}

// TestImportBatchedIntoDataDir: an import cut into many small batches
// writes the same objects into a data directory as one batch would, and
// run again changes nothing.
func TestImportBatchedIntoDataDir(t *testing.T) {
	defer func(items int) { importBatchItems = items }(importBatchItems)
	importBatchItems = 4
	root, want := radicaleTree(t, 3)
	data := t.TempDir()
	if out := mustAuditCLI(t, "import", "--users", root, "--data", data); !strings.HasPrefix(out, fmt.Sprintf("imported %d object(s), 0 unchanged, 0 error(s)\n", len(want))) {
		t.Fatalf("import: %q", out)
	}
	var head engine.Seq
	withDB(t, data, func(db *engine.DB) {
		for _, p := range want {
			dir, name := p[:strings.LastIndex(p, "/")+1], p[strings.LastIndex(p, "/")+1:]
			if _, err := db.Object(dir, name, false); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
		c, err := db.Collection("/dav/home/u001/contacts/")
		if err != nil || c.Kind != engine.KindAddressBook || c.Props.DisplayName != "contacts" {
			t.Errorf("address book: %+v %v", c, err)
		}
		head = db.Head()
	})
	if out := mustAuditCLI(t, "import", "--users", root, "--data", data); !strings.HasPrefix(out, fmt.Sprintf("imported 0 object(s), %d unchanged, 0 error(s)\n", len(want))) {
		t.Fatalf("second import: %q", out)
	}
	withDB(t, data, func(db *engine.DB) {
		if db.Head() != head {
			t.Errorf("a second import appended %d events", db.Head()-head)
		}
	})
}

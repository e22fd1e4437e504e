package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine/contentline"
)

// importBatchBytes and importBatchItems bound what an import holds in
// memory: the files it read and has not yet handed to the backend
// (variables for tests). The tree is walked and each file read once, as
// the walk reaches it; a batch goes to the backend when the next file
// would take it past either bound (a collection may span batches). At
// 32 MiB the writer still gets thousands of puts a batch, so they commit
// in the same large groups as when the whole tree was read first (which
// held the whole tree: ~0.9 GiB resident for 100,000 files).
var (
	importBatchBytes = 32 << 20
	importBatchItems = 8192
)

// importer walks an import's source and hands it to a backend in
// batches. A data directory takes many collections a batch, so that their
// writes commit in the same groups; the admin API one collection a
// request (or part of one, at the bounds), within its body limit.
type importer struct {
	ctx    context.Context
	b      audit.Backend
	remote bool
	batch  audit.ImportRequest
	bytes  int // of the files in batch
	items  int // in batch
	colls  int // collections met
	total  audit.ImportReport
}

func newImporter(ctx context.Context, b audit.Backend) *importer {
	_, local := b.(*audit.Local)
	return &importer{ctx: ctx, b: b, remote: !local}
}

// flush imports the batch and adds its report to the total.
func (im *importer) flush() error {
	if len(im.batch.Collections) == 0 {
		return nil
	}
	rep, err := im.b.Import(im.ctx, im.batch)
	if err != nil {
		return fmt.Errorf("import into %s: %w", im.batch.Collections[0].Path, err)
	}
	im.total.Imported += rep.Imported
	im.total.Unchanged += rep.Unchanged
	im.total.Errors = append(im.total.Errors, rep.Errors...)
	for _, u := range rep.NoAccount {
		if !slices.Contains(im.total.NoAccount, u) {
			im.total.NoAccount = append(im.total.NoAccount, u)
		}
	}
	im.batch.Collections, im.bytes, im.items = nil, 0, 0
	return nil
}

// radicaleRoot imports every user's collections of a Radicale storage
// folder (the one holding collection-root, or collection-root itself):
// collection-root/USER/COLLECTION/ becomes /dav/home/USER/COLLECTION/.
func (im *importer) radicaleRoot(root string) error {
	if st, err := os.Stat(filepath.Join(root, "collection-root")); err == nil && st.IsDir() {
		root = filepath.Join(root, "collection-root")
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := im.walk("/dav/home/"+e.Name()+"/", filepath.Join(root, e.Name())); err != nil {
			return err
		}
	}
	if im.colls == 0 {
		return fmt.Errorf("%s: no collections found (want RADICALE_ROOT/collection-root/USER/COLLECTION/)", root)
	}
	return nil
}

// walk imports src into the collection path. A file is split into one
// object per UID (named <uid>.ics or .vcf). A collection folder
// (Radicale's, with .Radicale.props, or a vdir) gives one object per file
// under the file's own name, its href, so clients find the same URLs; a
// folder of folders gives one collection per folder, named as the folder.
func (im *importer) walk(path, src string) error {
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return im.collection(audit.ImportCollection{Path: path, Kind: "calendar"}, false, []string{src}, false)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	radicale := radicaleProps(src)
	var files []string
	var dirs []string
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Name(), "."):
			// Radicale's .Radicale.props, .Radicale.cache, .Radicale.lock
		case e.IsDir():
			dirs = append(dirs, e.Name())
		case e.Name() == "displayname" || e.Name() == "color":
			// vdir metadata, read by readFolderProps
		case e.Type().IsRegular() && (radicale != nil || isDataFile(e.Name())):
			// Radicale names items as clients PUT them, with or without
			// an extension; a vdir's items have one.
			files = append(files, filepath.Join(src, e.Name()))
		}
	}
	// A folder with data files is a collection; so is an empty one that
	// says it is (Radicale's tag, vdir's metadata files).
	if len(files) > 0 || isCollectionFolder(src, radicale) {
		c := audit.ImportCollection{Path: path, Kind: "calendar"}
		readFolderProps(src, radicale, &c)
		tagged := radicale["tag"] == "VCALENDAR" || radicale["tag"] == "VADDRESSBOOK"
		if err := im.collection(c, tagged, files, true); err != nil {
			return err
		}
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		if err := im.walk(path+d+"/", filepath.Join(src, d)); err != nil {
			return err
		}
	}
	return nil
}

// collection adds the items of files to the batch under c (its
// properties, no items), file by file, flushing the batch at its bounds.
// Unless tagged (its kind given by Radicale's tag), the collection is an
// address book once a file holds vCards: the parts of it in later batches
// are too (a folder that mixes the two past the first batch's bounds gets
// its kind from the files of its first batch).
func (im *importer) collection(c audit.ImportCollection, tagged bool, files []string, keepNames bool) error {
	im.colls++
	im.batch.Collections = append(im.batch.Collections, c)
	sort.Strings(files)
	for _, f := range files {
		items, vcard, size, err := readFileItems(f, keepNames, !im.remote)
		if err != nil {
			return err
		}
		cur := &im.batch.Collections[len(im.batch.Collections)-1]
		if vcard && !tagged {
			cur.Kind = "addressbook"
		}
		if im.items > 0 && (im.bytes+size > importBatchBytes || im.items+len(items) > importBatchItems) {
			next := *cur
			next.Items = nil
			if err := im.flush(); err != nil {
				return err
			}
			im.batch.Collections = append(im.batch.Collections, next)
			cur = &im.batch.Collections[0]
		}
		cur.Items = append(cur.Items, items...)
		im.bytes += size
		im.items += len(items)
	}
	if im.remote {
		return im.flush()
	}
	return nil
}

// readFileItems reads the items of file f; vcard reports whether it holds
// vCards, size its bytes. With keepNames (the files of a collection
// folder), a file that holds one object is one item under the file's
// name, its bytes as they are; a file with several objects, and every file
// without keepNames, is split into one item per UID. A file that cannot be
// read as calendar or vCard data becomes an item error, so the others go
// on. With whole (an import into a data directory), a file of a
// collection folder is one item marked Whole, not parsed here: the
// backend validates it and splits it only when it is not one object, so
// that it is parsed once (audit.Item.Whole).
func readFileItems(f string, keepNames, whole bool) (items []audit.Item, vcard bool, size int, err error) {
	data, err := os.ReadFile(f)
	if err != nil {
		return nil, false, 0, err
	}
	data = contentline.StripBOM(data) // as PUT does
	vcard = audit.IsVCard(data)
	if keepNames && whole {
		return []audit.Item{{Name: filepath.Base(f), Body: data, Whole: true}}, vcard, len(data), nil
	}
	return audit.FileItems(filepath.Base(f), data, keepNames), vcard, len(data), nil
}

// readFolderProps reads the properties of a collection folder: Radicale's
// .Radicale.props, then vdir's displayname and color files.
func readFolderProps(dir string, radicale map[string]string, c *audit.ImportCollection) {
	c.SetRadicaleProps(radicale)
	if data, err := os.ReadFile(filepath.Join(dir, "displayname")); err == nil {
		c.DisplayName = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile(filepath.Join(dir, "color")); err == nil {
		c.Color = strings.TrimSpace(string(data))
	}
}

func isDataFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".ics" || ext == ".vcf" || ext == ".vcard"
}

package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/engine/contentline"
)

// importWorkers is how many collections Import creates at once: each
// creation waits for its own fsync, and an import of a Radicale root
// creates two for every user.
const importWorkers = 16

// importRun is the most items importItems writes in one call.
const importRun = 4096

// Import puts every item into its collection under the item's name,
// creating missing collections (and the owner's home); a failing item is
// reported and the others go on. An item whose name already holds the same
// bytes is left alone (no event, the ETag stays), so an import run twice
// changes nothing; a changed one is replaced, unless a client changed it
// while the import ran.
//
// The outcome is that of writing the items one at a time, in order, but
// the writes are handed to the engine without waiting for each (see
// engine.PutObjects): they commit in groups, one fsync a group, and a
// crash keeps a prefix of every collection's items.
func (l *Local) Import(ctx context.Context, req ImportRequest) (*ImportReport, error) {
	rep := &ImportReport{}
	owners := map[string]bool{}
	errs := make([][]string, len(req.Collections)) // per collection, in order
	for i := range req.Collections {
		c := &req.Collections[i]
		if o := ownerOf(c.Path); o != "" {
			owners[o] = true
		}
		for _, d := range c.dropBadProps() {
			errs[i] = append(errs[i], c.Path+": "+d)
		}
	}
	ready := l.ensureCollections(ctx, req.Collections, errs)
	var pending []func()
	finish := func() {
		for _, f := range pending {
			f()
		}
		pending = pending[:0]
	}
	var err error
	for i, c := range req.Collections {
		if !ready[i] {
			continue
		}
		items, preps := l.prepareWhole(c.Path, c.Items)
		// Items go to the engine in runs of distinct names, each run
		// compared with the store before it is written: a name seen twice
		// is compared with what the run before it wrote.
		seen := map[string]bool{}
		start := 0
		for j, it := range items {
			if it.Err == "" && (seen[it.Name] || len(seen) == importRun) {
				finish()
				if err = l.importItems(ctx, c.Path, items[start:j], preps[start:j], rep, &errs[i], &pending); err != nil {
					break
				}
				finish()
				clear(seen)
				start = j
			}
			seen[it.Name] = it.Err == ""
		}
		if err != nil {
			break
		}
		if err = l.importItems(ctx, c.Path, items[start:], preps[start:], rep, &errs[i], &pending); err != nil {
			break
		}
	}
	finish()
	for _, e := range errs {
		rep.Errors = append(rep.Errors, e...)
	}
	for _, o := range slices.Sorted(maps.Keys(owners)) {
		if _, err := l.DB.User(o); errors.Is(err, engine.ErrNotFound) {
			rep.NoAccount = append(rep.NoAccount, o)
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	return rep, err
}

// ensureCollections runs ensureCollection for every collection of cs,
// several at once when their paths are distinct, and reports which are
// ready for their items; the failures go to errs.
func (l *Local) ensureCollections(ctx context.Context, cs []ImportCollection, errs [][]string) []bool {
	ready := make([]bool, len(cs))
	fails := make([]error, len(cs))
	workers := importWorkers
	paths := map[string]bool{}
	for _, c := range cs {
		paths[c.Path] = true
	}
	if len(paths) < len(cs) {
		workers = 1 // a path twice: the second sees what the first did
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(cs)) {
		wg.Go(func() {
			for i := range next {
				fails[i] = l.ensureCollection(ctx, cs[i])
			}
		})
	}
	for i := range cs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range fails {
		if ready[i] = err == nil; err != nil {
			errs[i] = append(errs[i], err.Error())
		}
	}
	return ready
}

// prepareWhole resolves the Whole items of the collection at path (files
// of a collection folder, unsplit): one that is a valid object is kept
// under its name with the engine's validation of it (engine.PrepareObject:
// the only parse of its body), aligned in preps; one that is not becomes
// the items FileItems makes of a collection folder's file: kept whole
// when it holds one object (its put then fails as PUT would), its objects
// under their UIDs when it holds several, an item error when it cannot be
// split. Items keep their order. A file that is one valid object is thus
// stored as a PUT of it would store it, even where a split would have
// dropped a component (an X- component without the object's UID).
func (l *Local) prepareWhole(path string, items []Item) ([]Item, []*engine.PreparedObject) {
	if !slices.ContainsFunc(items, func(it Item) bool { return it.Whole }) {
		return items, make([]*engine.PreparedObject, len(items))
	}
	out := make([]Item, 0, len(items))
	preps := make([]*engine.PreparedObject, 0, len(items))
	for _, it := range items {
		if !it.Whole || it.Err != "" {
			out, preps = append(out, it), append(preps, nil)
			continue
		}
		p, err := l.DB.PrepareObject(path, it.Name, it.Body, "")
		if err == nil {
			out, preps = append(out, it), append(preps, p)
			continue
		}
		for _, s := range FileItems(it.Name, it.Body, true) {
			out, preps = append(out, s), append(preps, nil)
		}
	}
	return out, preps
}

// importItems starts writing items of one collection, whose names are
// distinct: an item whose name holds the same bytes already is left
// alone, the others are handed to the engine together (engine.StartPuts),
// each conditional on the version it was compared with, with the
// engine's validation of it when preps (aligned with items) has one. It
// appends to pending the function that waits for them and counts them in
// rep and errs. It returns ctx's error, starting nothing, when ctx ended.
func (l *Local) importItems(ctx context.Context, path string, items []Item, preps []*engine.PreparedObject, rep *ImportReport, errs *[]string, pending *[]func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fails := make([]error, len(items))
	same := make([]bool, len(items))
	curs, err := l.stored(path, items)
	var puts []engine.ObjectPut
	var at []int // puts[k] is items[at[k]]
	for i, it := range items {
		if it.Err != "" {
			continue
		}
		if err != nil {
			fails[i] = err
			continue
		}
		opts := engine.PutOptions{IfNoneMatch: true}
		if cur := curs[i]; cur != nil {
			if bytes.Equal(cur.Body, contentline.StripBOM(it.Body)) {
				same[i] = true
				continue
			}
			opts = engine.PutOptions{IfMatch: cur.ETag}
		}
		puts = append(puts, engine.ObjectPut{Name: it.Name, Body: it.Body, Opts: opts, Prepared: preps[i]})
		at = append(at, i)
	}
	started := l.DB.StartPuts(ctx, l.Meta, path, puts)
	*pending = append(*pending, func() {
		_, perr := started.Wait()
		for k, i := range at {
			fails[i] = perr[k]
		}
		for i, it := range items {
			switch {
			case it.Err != "":
				*errs = append(*errs, path+": "+it.Err)
			case fails[i] != nil:
				*errs = append(*errs, fmt.Sprintf("%s%s: %v", path, it.Name, fails[i]))
			case same[i]:
				rep.Unchanged++
			default:
				rep.Imported++
			}
		}
	})
	return nil
}

// stored returns what the collection at path holds under the names of
// items (those without Err), with bodies, aligned with items: nil where a
// name holds nothing, every entry nil when the collection does not exist
// (the puts then fail on it). It reads them in one ordered pass over the
// collection's records (engine.View.ObjectsIn) where a lookup an item
// (DB.Object) read the collection's record and then the object's, each a
// seek through every level of the store.
func (l *Local) stored(path string, items []Item) ([]*engine.Object, error) {
	out := make([]*engine.Object, len(items))
	v, err := l.DB.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	c, err := v.Collection(path)
	if errors.Is(err, engine.ErrNotFound) {
		return out, nil
	} else if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(items))
	at := make([]int, 0, len(items)) // names[k] is items[at[k]]'s
	for i, it := range items {
		if it.Err == "" {
			names, at = append(names, it.Name), append(at, i)
		}
	}
	objs, err := v.ObjectsIn(c, names, true, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	for k, o := range objs {
		out[at[k]] = o
	}
	return out, nil
}

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
		// Items go to the engine in runs of distinct names, each run
		// compared with the store before it is written: a name seen twice
		// is compared with what the run before it wrote.
		seen := map[string]bool{}
		start := 0
		for j, it := range c.Items {
			if it.Err == "" && (seen[it.Name] || len(seen) == importRun) {
				finish()
				if err = l.importItems(ctx, c.Path, c.Items[start:j], rep, &errs[i], &pending); err != nil {
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
		if err = l.importItems(ctx, c.Path, c.Items[start:], rep, &errs[i], &pending); err != nil {
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

// importItems starts writing items of one collection, whose names are
// distinct: an item whose name holds the same bytes already is left
// alone, the others are handed to the engine together (engine.StartPuts),
// each conditional on the version it was compared with. It appends to
// pending the function that waits for them and counts them in rep and
// errs. It returns ctx's error, starting nothing, when ctx ended.
func (l *Local) importItems(ctx context.Context, path string, items []Item, rep *ImportReport, errs *[]string, pending *[]func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fails := make([]error, len(items))
	same := make([]bool, len(items))
	var puts []engine.ObjectPut
	var at []int // puts[k] is items[at[k]]
	for i, it := range items {
		if it.Err != "" {
			continue
		}
		opts := engine.PutOptions{IfNoneMatch: true}
		cur, err := l.DB.Object(path, it.Name, true)
		switch {
		case err == nil:
			if bytes.Equal(cur.Body, contentline.StripBOM(it.Body)) {
				same[i] = true
				continue
			}
			opts = engine.PutOptions{IfMatch: cur.ETag}
		case !errors.Is(err, engine.ErrNotFound):
			fails[i] = err
			continue
		}
		puts = append(puts, engine.ObjectPut{Name: it.Name, Body: it.Body, Opts: opts})
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

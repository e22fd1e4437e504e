package engine

import (
	"context"
	"errors"
)

// ObjectPut is one write of PutObjects: Body under Name, with the
// preconditions of Opts.
type ObjectPut struct {
	Name string
	Body []byte
	Opts PutOptions
}

// PutObjects writes each of puts into the collection at path as PutObject
// would, and in order: each is checked against the state including the
// puts before it. Unlike PutObject, it hands them to the writer without
// waiting for each outcome, so they commit in groups of up to
// Options.MaxBatch with one fsync a group rather than one a put (an
// offline import's speed); unlike WriteScheduled, each put succeeds or
// fails on its own. A crash keeps a prefix of the puts: groups commit in
// order. It returns a result and an error for every put (the error nil
// when it was written); a put that was not handed to the writer because
// ctx ended gets ctx's error. A put refused because the collection was
// replaced while it waited is done again on its own, after the others.
//
// Errors: those of PutObject, per put.
func (db *DB) PutObjects(ctx context.Context, m Meta, path string, puts []ObjectPut) ([]PutResult, []error) {
	res := make([]PutResult, len(puts))
	errs := make([]error, len(puts))
	coll, cached, err := db.putCollection(path)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return res, errs
	}
	if db.replica {
		err = errReplica
	}
	reqs := make([]*request, len(puts))
	cmds := make([]*putCmd, len(puts))
	for i, p := range puts {
		if err == nil {
			err = ctx.Err() // enqueue may pick a ready send over an ended ctx
		}
		if err != nil { // a replica, the writer is gone, or ctx ended
			errs[i] = err
			continue
		}
		if errs[i] = db.checkPut(path, p.Name, p.Body); errs[i] != nil {
			continue
		}
		if cmds[i], errs[i] = db.newPutCmd(coll, m, path, p.Name, p.Body, p.Opts); errs[i] != nil {
			if cached { // maybe judged by a stale component set: again on its own
				reqs[i] = &request{} // marks it for PutObject
			}
			continue
		}
		reqs[i] = &request{cmd: cmds[i], done: make(chan error, 1)}
		if err = db.enqueue(ctx, reqs[i]); err != nil {
			errs[i], reqs[i] = err, nil
		}
	}
	var again []int
	for i, r := range reqs {
		switch {
		case r == nil:
			continue
		case r.cmd != nil:
			errs[i] = db.await(r)
			if errs[i] == nil {
				res[i] = cmds[i].res
				continue
			}
		}
		if r.cmd == nil || errors.Is(errs[i], errCollectionChanged) || (cached && errors.Is(errs[i], ErrNotFound)) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		db.putColls.Delete(path)
	}
	for _, i := range again {
		r, err := db.PutObject(ctx, m, path, puts[i].Name, puts[i].Body, puts[i].Opts)
		if errs[i] = err; err == nil {
			res[i] = *r
		}
	}
	return res, errs
}

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
	return db.StartPuts(ctx, m, path, puts).Wait()
}

// PendingPuts are puts handed to the writer by StartPuts.
type PendingPuts struct {
	db     *DB
	ctx    context.Context
	m      Meta
	path   string
	puts   []ObjectPut
	cached bool
	reqs   []*request
	cmds   []*putCmd
	errs   []error
}

// StartPuts is PutObjects without the wait: it validates puts and hands
// them to the writer, and Wait returns their outcomes. Puts started by one
// goroutine, in one call or in several, run in the order started, so a
// caller may start the puts of many collections before it waits for any.
func (db *DB) StartPuts(ctx context.Context, m Meta, path string, puts []ObjectPut) *PendingPuts {
	p := &PendingPuts{db: db, ctx: ctx, m: m, path: path, puts: puts,
		reqs: make([]*request, len(puts)), cmds: make([]*putCmd, len(puts)), errs: make([]error, len(puts))}
	coll, cached, err := db.putCollection(path)
	p.cached = cached
	if err == nil && db.replica {
		err = errReplica
	}
	for i, put := range puts {
		if err == nil {
			err = ctx.Err() // enqueue may pick a ready send over an ended ctx
		}
		if err != nil { // no collection, a replica, the writer is gone, or ctx ended
			p.errs[i] = err
			continue
		}
		if p.errs[i] = db.checkPut(path, put.Name, put.Body); p.errs[i] != nil {
			continue
		}
		if p.cmds[i], p.errs[i] = db.newPutCmd(coll, m, path, put.Name, put.Body, put.Opts); p.errs[i] != nil {
			if cached { // maybe judged by a stale component set: again on its own
				p.reqs[i] = &request{} // marks it for PutObject
			}
			continue
		}
		p.reqs[i] = &request{cmd: p.cmds[i], done: make(chan error, 1)}
		if err = db.enqueue(ctx, p.reqs[i]); err != nil {
			p.errs[i], p.reqs[i] = err, nil
		}
	}
	return p
}

// Wait waits for the outcome of every put and returns, for each, its
// result and its error (nil when it was written). Call it once.
func (p *PendingPuts) Wait() ([]PutResult, []error) {
	res := make([]PutResult, len(p.puts))
	var again []int
	for i, r := range p.reqs {
		switch {
		case r == nil:
			continue
		case r.cmd != nil:
			p.errs[i] = p.db.await(r)
			if p.errs[i] == nil {
				res[i] = p.cmds[i].res
				continue
			}
		}
		if r.cmd == nil || errors.Is(p.errs[i], errCollectionChanged) || (p.cached && errors.Is(p.errs[i], ErrNotFound)) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		p.db.putColls.Delete(p.path)
	}
	for _, i := range again {
		put := p.puts[i]
		r, err := p.db.PutObject(p.ctx, p.m, p.path, put.Name, put.Body, put.Opts)
		if p.errs[i] = err; err == nil {
			res[i] = *r
		}
	}
	return res, p.errs
}

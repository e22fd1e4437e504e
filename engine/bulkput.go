package engine

import (
	"context"
	"errors"
	"strings"
)

// ObjectPut is one write of PutObjects: Body under Name, with the
// preconditions of Opts.
type ObjectPut struct {
	Name string
	Body []byte
	Opts PutOptions
	// Prepared, when PrepareObject returned it for this Name and Body (the
	// same slice) and Opts.ContentType, spares the put its validation;
	// otherwise it is ignored and the body validated as usual.
	Prepared *PreparedObject
}

// PreparedObject is a body PrepareObject checked and validated for a
// collection, to be put by StartPuts without being parsed again.
type PreparedObject struct {
	path, name  string
	given       []byte // the body as given, to recognize the put
	body        []byte // as stored: without a byte-order mark
	contentType string
	collID      uint64
	info        objectInfo
}

// PrepareObject checks and validates body as a put of it under name into
// the collection at path would be (PutObject's checks of the name, the
// size and the data, against the collection's kind and components), and
// returns it ready to be handed to StartPuts in ObjectPut.Prepared. It is
// for a caller that must know whether a body is valid before it decides
// what to put (an import puts a file whole when it is one object, else
// splits it): the body is parsed once. The preconditions that depend on
// the store (ETags, UIDs, a replaced collection) are checked by the
// writer, as for every put.
//
// Errors: those of PutObject's validation: ErrNotFound (no such
// collection), ErrInvalidName, ErrConflict, *InvalidDataError.
func (db *DB) PrepareObject(path, name string, body []byte, contentType string) (*PreparedObject, error) {
	if err := db.checkPut(path, name, body); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		coll, cached, err := db.putCollection(path)
		if err != nil {
			return nil, err
		}
		cmd, err := db.newPutCmd(coll, Meta{}, path, name, body, PutOptions{ContentType: contentType})
		if err != nil {
			if cached && attempt == 0 { // maybe judged by a stale component set
				db.putColls.Delete(path)
				continue
			}
			return nil, err
		}
		// The parse's strings point into its copy of the body: cloned, so
		// that the copy is not held as long as the prepared form.
		info := cmd.info
		info.uid, info.component = strings.Clone(info.uid), strings.Clone(info.component)
		return &PreparedObject{path: path, name: name, given: body, body: cmd.body, contentType: contentType,
			collID: coll.ID, info: info}, nil
	}
}

// preparedFor returns the writer's command for put when put.Prepared was
// made for it (path, name, the same body slice, content type), else nil.
func (put *ObjectPut) preparedFor(m Meta, path string) *putCmd {
	p := put.Prepared
	if p == nil || p.path != path || p.name != put.Name || p.contentType != put.Opts.ContentType ||
		len(p.given) != len(put.Body) || (len(p.given) > 0 && &p.given[0] != &put.Body[0]) {
		return nil
	}
	return &putCmd{m: m, path: path, name: put.Name, body: p.body, opts: put.Opts, info: p.info, collID: p.collID}
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

// StartPuts is PutObjects without the wait: it validates puts (but those
// PrepareObject validated) and hands them to the writer, and Wait returns their outcomes. Puts started by one
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
		cmd := put.preparedFor(m, path)
		if cmd == nil {
			if p.errs[i] = db.checkPut(path, put.Name, put.Body); p.errs[i] != nil {
				continue
			}
			if cmd, p.errs[i] = db.newPutCmd(coll, m, path, put.Name, put.Body, put.Opts); p.errs[i] != nil {
				if cached { // maybe judged by a stale component set: again on its own
					p.reqs[i] = &request{} // marks it for PutObject
				}
				continue
			}
		}
		p.cmds[i] = cmd
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

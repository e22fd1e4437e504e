package engine

import (
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine/internal/replay"
	"github.com/almanac/almanac/internal/testscale"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// model is a plain in-memory picture of what the engine must show.
type model struct {
	colls map[string]*mcoll
}

type mcoll struct {
	objs    map[string]mobj
	changed map[string]mchange // name -> its latest change
	lastSeq Seq
}

type mobj struct {
	uid, etag string
	body      []byte
}

type mchange struct {
	seq     Seq
	deleted bool
}

// savedToken is a sync token with the model's state when it was issued.
type savedToken struct {
	path, token string
	seq         Seq
}

// modelSteps is how many random operations each run of the model makes
// at scale 1 (ALMANAC_TEST_SCALE multiplies it). Every run verifies the
// projections against a replay of the log every 500 steps and at its end.
const modelSteps = 1000

// smallBudgetSteps is TestModelSmallBudgets' modelSteps.
const smallBudgetSteps = modelSteps / 2

// After every step the model compares every collection's listing, and the
// Changes answer of the tokens of the collections the step changed whose
// place in the list of tokens falls on the step (one in tokenSample); of
// every token every tokenCheckAll steps and after the last. Every token
// after every step made a run quadratic in its steps, 43% of its CPU:
// TestModelSmallBudgets, which runs alone before engine's parallel tests,
// took 356 s of the package's run at CI's scale under -race (under load).
// A token's answer changes only with its collection, and a change to
// another collection shows in the listings at once.
const (
	tokenSample   = 4
	tokenCheckAll = 16
)

// TestModel runs thousands of random operations against the engine and
// the model and compares after every step: listings, bodies, ETags, CTags,
// and the Changes answers of the tokens issued so far (tokenSample). The seeds run in
// parallel, each on its own in-memory database.
func TestModel(t *testing.T) {
	t.Parallel()
	steps := testscale.N(t, modelSteps)
	for _, seed := range []int64{1, 2} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			runModel(t, seed, steps)
		})
	}
}

// TestModelSmallBudgets runs the model with replays that work under tiny
// budgets, so that its Verify and rebuilds take the paths a large log
// takes. It changes the package's budget variables, which every replay
// reads, so it never runs in parallel (Go runs the parallel tests only once
// every sequential test is done).
//
// Its runs make half of TestModel's steps (smallBudgetSteps): the budgets'
// paths are all taken well before that, and every replay of the log
// here costs what hundreds of steps do. At CI's scale (2) the runs took
// 33.6 CPU-s under -race at 2,000 steps, of the package's one sequential
// stretch; at 1,000 they cover the same blocks of the engine and of its
// replay package (go test -coverpkg, bench/micro-results.md, session 18).
func TestModelSmallBudgets(t *testing.T) {
	steps := testscale.N(t, smallBudgetSteps)
	defer func(batch, keep, budget, ranges, span int, size uint64) {
		replayBatch, replay.KeepBytes, replay.RunBudget, replay.MaxRunRanges, replay.SortSpan, replay.RunTableSize = batch, keep, budget, ranges, span, size
	}(replayBatch, replay.KeepBytes, replay.RunBudget, replay.MaxRunRanges, replay.SortSpan, replay.RunTableSize)
	// Replays that flush every few events and outgrow their memory budget
	// at once, so they read back through Pebble what they flushed.
	replayBatch, replay.KeepBytes = 7, 2<<10
	t.Run("small-replays-seed3", func(t *testing.T) { runModel(t, 3, steps) })
	// Replays that ingest many small runs of small tables, with deletions
	// of collections that span runs and outnumber a run's ranges, and
	// families sorted in spans of a few writes: those written in key
	// order (the log, the change index) cut into pieces written apart.
	replay.KeepBytes, replay.RunBudget, replay.MaxRunRanges, replay.SortSpan, replay.RunTableSize = 256<<20, 4<<10, 2, 5, 1<<10
	t.Run("small-runs-seed4", func(t *testing.T) { runModel(t, 4, steps) })
}

func runModel(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewSource(seed))
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/", Kind: KindHome, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	m := &model{colls: map[string]*mcoll{}}
	paths := []string{"/alice/a/", "/alice/b/", "/alice/c/"}
	names := []string{"1.ics", "2.ics", "3.ics", "4.ics", "5.ics", "6.ics"}
	uids := []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7"}
	var tokens []savedToken

	for step := 0; step < steps; step++ {
		seqs := make(map[string]Seq, len(m.colls)) // each collection's lastSeq before the step
		for p, c := range m.colls {
			seqs[p] = c.lastSeq
		}
		path := paths[rng.Intn(len(paths))]
		name := names[rng.Intn(len(names))]
		c := m.colls[path]
		var op string
		switch r := rng.Intn(100); {
		case c == nil || r < 2:
			op = "create"
		case r < 4:
			op = "drop"
		case r < 55:
			op = "put"
		case r < 70:
			op = "delete"
		case r < 85:
			op = "move"
		default:
			op = "token"
		}
		desc := fmt.Sprintf("step %d: %s %s%s", step, op, path, name)
		switch op {
		case "create":
			_, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: path, Kind: KindCalendar, Owner: "alice"})
			if c != nil {
				expectErr(t, desc, err, is(ErrExists))
				break
			}
			mustOK(t, desc, err)
			m.colls[path] = &mcoll{objs: map[string]mobj{}, changed: map[string]mchange{}, lastSeq: db.Head()}
		case "drop":
			mustOK(t, desc, db.DeleteCollection(ctx, alice, path))
			delete(m.colls, path)
			kept := tokens[:0]
			for _, tok := range tokens {
				if tok.path != path {
					kept = append(kept, tok)
				}
			}
			tokens = kept
		case "put":
			uid := uids[rng.Intn(len(uids))]
			body := []byte(strings.Replace(string(event(uid)), "SUMMARY:", fmt.Sprintf("SUMMARY:%d ", step), 1))
			opts := PutOptions{}
			cur, exists := c.objs[name]
			switch rng.Intn(4) {
			case 0:
				opts.IfNoneMatch = true
			case 1:
				opts.IfMatch = cur.etag
				if !exists || rng.Intn(3) == 0 {
					opts.IfMatch = `"stale"`
				}
			}
			res, err := db.PutObject(ctx, alice, path, name, body, opts)
			switch {
			case opts.IfNoneMatch && exists, opts.IfMatch != "" && (!exists || opts.IfMatch != cur.etag):
				expectErr(t, desc, err, isETagMismatch)
			case c.uidHolder(uid, name) != "":
				expectErr(t, desc, err, func(err error) bool {
					var e *UIDConflictError
					return errors.As(err, &e) && e.Href == path+c.uidHolder(uid, name)
				})
			default:
				mustOK(t, desc, err)
				if res.Created == exists {
					t.Fatalf("%s: Created = %v, object existed = %v", desc, res.Created, exists)
				}
				c.objs[name] = mobj{uid: uid, etag: res.ETag, body: body}
				c.touch(name, res.Seq, false)
			}
		case "delete":
			cur, exists := c.objs[name]
			ifMatch := ""
			if rng.Intn(3) == 0 {
				ifMatch = `"stale"`
			}
			err := db.DeleteObject(ctx, alice, path, name, ifMatch)
			switch {
			case !exists:
				expectErr(t, desc, err, is(ErrNotFound))
			case ifMatch != "" && ifMatch != cur.etag:
				expectErr(t, desc, err, isETagMismatch)
			default:
				mustOK(t, desc, err)
				delete(c.objs, name)
				c.touch(name, db.Head(), true)
			}
		case "move":
			to := paths[rng.Intn(len(paths))]
			toName := names[rng.Intn(len(names))]
			overwrite, copy := rng.Intn(2) == 0, rng.Intn(3) == 0
			desc += fmt.Sprintf(" -> %s%s overwrite=%v copy=%v", to, toName, overwrite, copy)
			res, err := db.MoveObject(ctx, alice, MoveRequest{FromPath: path, FromName: name, ToPath: to, ToName: toName, Overwrite: overwrite, Copy: copy})
			src, exists := c.objs[name]
			dst := m.colls[to]
			switch {
			case !exists:
				expectErr(t, desc, err, is(ErrNotFound))
			case dst == nil:
				expectErr(t, desc, err, is(ErrConflict))
			case path == to && name == toName:
				expectErr(t, desc, err, is(ErrConflict))
			case !overwrite && dst.has(toName):
				expectErr(t, desc, err, is(ErrExists))
			case (path != to || copy) && dst.uidHolder(src.uid, toName) != "":
				expectErr(t, desc, err, func(err error) bool { var e *UIDConflictError; return errors.As(err, &e) })
			default:
				mustOK(t, desc, err)
				if !copy {
					delete(c.objs, name)
					c.touch(name, res.Seq, true)
				}
				dst.objs[toName] = mobj{uid: src.uid, etag: res.ETag, body: src.body}
				dst.touch(toName, res.Seq, false)
			}
		case "token":
			coll, err := db.Collection(path)
			mustOK(t, desc, err)
			tokens = append(tokens, savedToken{path: path, token: coll.SyncToken, seq: c.lastSeq})
		}
		check := tokens
		if step%tokenCheckAll != tokenCheckAll-1 && step != steps-1 {
			check = nil
			for i, tok := range tokens {
				if c := m.colls[tok.path]; c != nil && c.lastSeq != seqs[tok.path] && i%tokenSample == step%tokenSample {
					check = append(check, tok)
				}
			}
		}
		m.check(t, db, desc, check)
		if step%500 == 499 {
			if err := db.Verify(ctx); err != nil {
				t.Fatalf("%s: %v", desc, err)
			}
		}
	}
	if err := db.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	m.check(t, db, "after rebuild", tokens)
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}

	// Open's rebuild, which excises the projections before any reader.
	db = reopenStale(t, db, fs)
	m.check(t, db, "after the rebuild in Open", tokens)
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func (c *mcoll) has(name string) bool { _, ok := c.objs[name]; return ok }

// uidHolder returns the name other than name that holds uid, or "".
func (c *mcoll) uidHolder(uid, name string) string {
	for n, o := range c.objs {
		if o.uid == uid && n != name {
			return n
		}
	}
	return ""
}

func (c *mcoll) touch(name string, seq Seq, deleted bool) {
	c.changed[name] = mchange{seq: seq, deleted: deleted}
	c.lastSeq = seq
}

// check compares every collection of the engine with the model.
func (m *model) check(t *testing.T, db *DB, desc string, tokens []savedToken) {
	t.Helper()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for path, c := range m.colls {
		coll, err := v.Collection(path)
		if err != nil {
			t.Fatalf("%s: collection %s: %v", desc, path, err)
		}
		if coll.LastSeq != c.lastSeq || coll.Count != int64(len(c.objs)) {
			t.Fatalf("%s: %s lastSeq/count = %d/%d, model %d/%d", desc, path, coll.LastSeq, coll.Count, c.lastSeq, len(c.objs))
		}
		n := 0
		for o, err := range v.Objects(path, ListOptions{Bodies: true}) {
			if err != nil {
				t.Fatal(err)
			}
			want, ok := c.objs[o.Name]
			if !ok || o.ETag != want.etag || o.UID != want.uid || string(o.Body) != string(want.body) {
				t.Fatalf("%s: %s%s = %s/%s, model %+v (present %v)", desc, path, o.Name, o.ETag, o.UID, want, ok)
			}
			n++
		}
		if n != len(c.objs) {
			t.Fatalf("%s: %s lists %d objects, model has %d", desc, path, n, len(c.objs))
		}
	}
	for _, tok := range tokens {
		cs, err := v.Changes(tok.path, tok.token, 0)
		if err != nil {
			t.Fatalf("%s: changes of %s since %d: %v", desc, tok.path, tok.seq, err)
		}
		for _, ch := range cs.Changes {
			if o, ok := m.colls[tok.path].objs[ch.Name]; !ch.Deleted && (!ok || ch.ETag != o.etag) {
				t.Fatalf("%s: change of %s%s has ETag %s, model %+v", desc, tok.path, ch.Name, ch.ETag, o)
			}
		}
		got := describe(cs.Changes)
		want := m.colls[tok.path].since(tok.seq)
		if got != want {
			t.Fatalf("%s: changes of %s since %d = %q, model %q", desc, tok.path, tok.seq, got, want)
		}
	}
}

// since describes the changes after seq in the engine's order.
func (c *mcoll) since(seq Seq) string {
	type entry struct {
		name string
		ch   mchange
	}
	var es []entry
	for n, ch := range c.changed {
		if ch.seq > seq {
			es = append(es, entry{n, ch})
		}
	}
	sort.Slice(es, func(i, j int) bool {
		if es[i].ch.seq != es[j].ch.seq {
			return es[i].ch.seq < es[j].ch.seq
		}
		return es[i].name < es[j].name
	})
	var cs []Change
	for _, e := range es {
		cs = append(cs, Change{Name: e.name, Deleted: e.ch.deleted, ETag: "x"})
	}
	return describe(cs)
}

func mustOK(t *testing.T, desc string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", desc, err)
	}
}

func expectErr(t *testing.T, desc string, err error, ok func(error) bool) {
	t.Helper()
	if !ok(err) {
		t.Fatalf("%s: err = %v (%T)", desc, err, err)
	}
}

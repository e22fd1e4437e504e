package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	"github.com/cockroachdb/pebble/v2"
)

// CollectionSpec describes a collection to create.
type CollectionSpec struct {
	Path  string // URL path ending with "/"
	Kind  Kind
	Owner string
	Props Props
}

// CreateCollection creates a collection. Its parent must be a home or a
// plain collection, except for a home, which needs no parent.
//
// Errors: ErrInvalidName for a malformed path (*NameTooLongError for one
// over Limits); *PropsLimitError; ErrExists when the path (or
// an object of the same name in the parent) exists; ErrConflict when the
// parent is missing or may not contain collections.
func (db *DB) CreateCollection(ctx context.Context, m Meta, spec CollectionSpec) (*Collection, error) {
	if !validCollectionPath(spec.Path) || spec.Kind < KindHome || spec.Kind > KindOutbox {
		return nil, fmt.Errorf("%w: collection %q", ErrInvalidName, spec.Path)
	}
	if err := db.opts.Limits.checkNames(spec.Path, ""); err != nil {
		return nil, err
	}
	if err := db.opts.Limits.CheckProps(spec.Props); err != nil {
		return nil, err
	}
	cmd := &createCollectionCmd{m: m, spec: spec}
	if err := db.submit(ctx, cmd); err != nil {
		return nil, err
	}
	return db.Collection(spec.Path)
}

type createCollectionCmd struct {
	m    Meta
	spec CollectionSpec
}

func (c *createCollectionCmd) run(tx *txn) error {
	if _, err := collectionByPath(tx.rw, c.spec.Path); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, c.spec.Path)
	} else if err != ErrNotFound {
		return err
	}
	if c.spec.Kind != KindHome {
		parent, err := collectionByPath(tx.rw, parentPath(c.spec.Path))
		if err == ErrNotFound {
			return fmt.Errorf("%w: parent of %s does not exist", ErrConflict, c.spec.Path)
		}
		if err != nil {
			return err
		}
		if k := Kind(parent.Kind); k != KindHome && k != KindPlain {
			return fmt.Errorf("%w: a %s collection cannot contain collections", ErrConflict, k)
		}
		if _, err := getObject(tx.rw, parent.Id, baseName(c.spec.Path)); err == nil {
			return fmt.Errorf("%w: an object named %s exists", ErrExists, baseName(c.spec.Path))
		}
		if taken, err := mountInHome(tx.rw, parent, baseName(c.spec.Path)); err != nil {
			return err
		} else if taken {
			return fmt.Errorf("%w: a share is mounted at %s", ErrExists, c.spec.Path)
		}
	}
	return tx.append(c.m, &eventv1.Event{
		Op:             eventv1.Op_OP_COLLECTION_CREATED,
		CollectionId:   uint64(tx.next),
		CollectionPath: c.spec.Path,
		CollectionKind: eventv1.CollectionKind(c.spec.Kind),
		Owner:          c.spec.Owner,
		Props:          propsToProto(c.spec.Props),
	})
}

// DeleteCollection deletes the collection at path with everything in it,
// collections inside it included: one event per collection, all in one
// atomic commit.
//
// Errors: ErrNotFound.
func (db *DB) DeleteCollection(ctx context.Context, m Meta, path string) error {
	return db.submit(ctx, &deleteCollectionCmd{m: m, path: path})
}

type deleteCollectionCmd struct {
	m    Meta
	path string
}

func (c *deleteCollectionCmd) run(tx *txn) error {
	if _, err := collectionByPath(tx.rw, c.path); err != nil {
		return err
	}
	paths, err := descendants(tx.rw, c.path)
	if err != nil {
		return err
	}
	// Deepest first, so every event leaves a consistent tree.
	sort.Slice(paths, func(i, j int) bool { return len(paths[i]) > len(paths[j]) })
	for _, p := range paths {
		coll, err := collectionByPath(tx.rw, p)
		if err != nil {
			return err
		}
		err = tx.append(c.m, &eventv1.Event{
			Op:             eventv1.Op_OP_COLLECTION_DELETED,
			CollectionId:   coll.Id,
			CollectionPath: coll.Path,
			CollectionKind: coll.Kind,
			Owner:          coll.Owner,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// descendants returns path and the paths of every live collection below it.
func descendants(r interface {
	NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
}, path string) ([]string, error) {
	lo := keys.PathKey(path)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: keys.PrefixEnd(lo)})
	if err != nil {
		return nil, fmt.Errorf("engine: path iterator: %w", err)
	}
	defer it.Close()
	var out []string
	for it.First(); it.Valid(); it.Next() {
		p, err := keys.ParsePathKey(it.Key())
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(p, path) {
			out = append(out, p)
		}
	}
	return out, it.Error()
}

// UpdateProps changes a collection's properties atomically: fn gets a copy
// of the current properties and edits it; an error from fn rejects the
// whole change. fn runs on the writer and must be quick. A result over
// Limits is refused unless it is no larger than what was there (so
// properties stored under larger limits can still be removed).
//
// Errors: ErrNotFound, *PropsLimitError, or fn's error.
func (db *DB) UpdateProps(ctx context.Context, m Meta, path string, fn func(*Props) error) error {
	return db.submit(ctx, &updatePropsCmd{m: m, path: path, fn: fn})
}

type updatePropsCmd struct {
	m    Meta
	path string
	fn   func(*Props) error
}

func (c *updatePropsCmd) run(tx *txn) error {
	coll, err := collectionByPath(tx.rw, c.path)
	if err != nil {
		return err
	}
	old := propsFromProto(coll.Props)
	p := old.Clone()
	if err := c.fn(&p); err != nil {
		return err
	}
	if err := tx.db.opts.Limits.CheckPropsChange(old, p); err != nil {
		return err
	}
	return tx.append(c.m, &eventv1.Event{
		Op:             eventv1.Op_OP_COLLECTION_PROPS_CHANGED,
		CollectionId:   coll.Id,
		CollectionPath: coll.Path,
		CollectionKind: coll.Kind,
		Owner:          coll.Owner,
		Props:          propsToProto(p),
	})
}

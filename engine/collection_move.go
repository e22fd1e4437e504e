package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// MoveCollection moves the collection at from, with everything below it,
// to to (WebDAV MOVE). Collection ids stay, so sync tokens stay valid. With
// overwrite, an existing destination (collection or object) is deleted
// first, in the same atomic write. created reports that nothing was at to.
//
// Errors: ErrNotFound (no source), ErrExists (destination exists and
// overwrite is false), ErrConflict (destination parent missing or unable to
// hold collections, one path inside the other, a home as source),
// ErrInvalidName.
func (db *DB) MoveCollection(ctx context.Context, m Meta, from, to string, overwrite bool) (created bool, err error) {
	cmd := &treeCmd{m: m, from: from, to: to, overwrite: overwrite}
	err = db.submitTree(ctx, cmd)
	return cmd.created, err
}

// CopyCollection copies the collection at from, with its objects and the
// collections below it, to to (WebDAV COPY, Depth infinity). The copies
// are new collections with new ids; objects get new ETags. Errors are those
// of MoveCollection.
func (db *DB) CopyCollection(ctx context.Context, m Meta, from, to string, overwrite bool) (created bool, err error) {
	cmd := &treeCmd{m: m, from: from, to: to, overwrite: overwrite, copy: true}
	err = db.submitTree(ctx, cmd)
	return cmd.created, err
}

func (db *DB) submitTree(ctx context.Context, cmd *treeCmd) error {
	if !validCollectionPath(cmd.from) || !validCollectionPath(cmd.to) {
		return fmt.Errorf("%w: %q -> %q", ErrInvalidName, cmd.from, cmd.to)
	}
	if err := db.opts.Limits.checkNames(cmd.to, ""); err != nil {
		return err
	}
	if strings.HasPrefix(cmd.to, cmd.from) || strings.HasPrefix(cmd.from, cmd.to) {
		return fmt.Errorf("%w: %s and %s contain one another", ErrConflict, cmd.from, cmd.to)
	}
	return db.submit(ctx, cmd)
}

// treeCmd moves or copies a collection tree.
type treeCmd struct {
	m               Meta
	from, to        string
	overwrite, copy bool
	created         bool
}

func (c *treeCmd) run(tx *txn) error {
	src, err := collectionByPath(tx.rw, c.from)
	if err != nil {
		return err
	}
	if Kind(src.Kind) == KindHome {
		return fmt.Errorf("%w: a home cannot be moved or copied", ErrConflict)
	}
	parent, err := collectionByPath(tx.rw, parentPath(c.to))
	if err == ErrNotFound {
		return fmt.Errorf("%w: parent of %s does not exist", ErrConflict, c.to)
	}
	if err != nil {
		return err
	}
	if !isPlainish(parent.Kind) {
		return fmt.Errorf("%w: a %s collection cannot contain collections", ErrConflict, Kind(parent.Kind))
	}
	dst, err := collectionByPath(tx.rw, c.to)
	if err != nil && err != ErrNotFound {
		return err
	}
	obj, err := getObject(tx.rw, parent.Id, baseName(c.to))
	if err != nil && err != ErrNotFound {
		return err
	}
	c.created = dst == nil && obj == nil
	if taken, err := mountInHome(tx.rw, parent, baseName(c.to)); err != nil {
		return err
	} else if taken {
		return fmt.Errorf("%w: a share is mounted at %s", ErrExists, c.to)
	}
	if !c.created && !c.overwrite {
		return fmt.Errorf("%w: %s", ErrExists, c.to)
	}
	srcPaths, err := descendants(tx.rw, c.from)
	if err != nil {
		return err
	}
	sort.Strings(srcPaths) // parents before children
	for _, p := range srcPaths {
		if err := tx.db.opts.Limits.checkNames(c.to+strings.TrimPrefix(p, c.from), ""); err != nil {
			return err
		}
	}

	// Every check is done: from here on only appends.
	if dst != nil {
		if err := (&deleteCollectionCmd{m: c.m, path: c.to}).run(tx); err != nil {
			return err
		}
	}
	if obj != nil {
		if err := (&deleteCmd{m: c.m, path: parent.Path, name: baseName(c.to)}).run(tx); err != nil {
			return err
		}
	}
	for _, p := range srcPaths {
		coll, err := collectionByPath(tx.rw, p)
		if err != nil {
			return err
		}
		newPath := c.to + strings.TrimPrefix(p, c.from)
		if c.copy {
			err = copyCollection(tx, c.m, coll, newPath)
		} else {
			err = tx.append(c.m, &eventv1.Event{
				Op:               eventv1.Op_OP_COLLECTION_MOVED,
				CollectionId:     coll.Id,
				CollectionPath:   coll.Path,
				ToCollectionPath: newPath,
				CollectionKind:   coll.Kind,
				Owner:            coll.Owner,
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// copyCollection creates a copy of coll at path and copies its objects.
func copyCollection(tx *txn, m Meta, coll *statev1.Collection, path string) error {
	id := uint64(tx.next)
	err := tx.append(m, &eventv1.Event{
		Op:             eventv1.Op_OP_COLLECTION_CREATED,
		CollectionId:   id,
		CollectionPath: path,
		CollectionKind: coll.Kind,
		Owner:          coll.Owner,
		Props:          coll.Props,
	})
	if err != nil {
		return err
	}
	lo := keys.IDPrefix(keys.Obj, coll.Id)
	it, err := tx.rw.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: keys.PrefixEnd(lo)})
	if err != nil {
		return fmt.Errorf("engine: object iterator: %w", err)
	}
	type item struct {
		name string
		o    *statev1.Object
	}
	var items []item // collected first: appending while iterating the batch is unsafe
	for it.First(); it.Valid(); it.Next() {
		name, err := keys.Name(it.Key())
		if err != nil {
			it.Close()
			return err
		}
		o := &statev1.Object{}
		if err := proto.Unmarshal(it.Value(), o); err != nil {
			it.Close()
			return fmt.Errorf("engine: decode object %s: %w", name, err)
		}
		items = append(items, item{name, o})
	}
	if err := it.Close(); err != nil {
		return err
	}
	for _, x := range items {
		body, err := bodyAt(tx.rw, Seq(x.o.BodySeq))
		if err != nil {
			return err
		}
		err = tx.append(m, &eventv1.Event{
			Op:               eventv1.Op_OP_OBJECT_PUT,
			CollectionId:     id,
			CollectionPath:   path,
			Object:           x.name,
			Body:             body,
			ContentType:      x.o.ContentType,
			Uid:              x.o.Uid,
			Component:        x.o.Component,
			EnvelopeStart:    x.o.EnvelopeStart,
			EnvelopeEnd:      x.o.EnvelopeEnd,
			ObjectProps:      x.o.Dead,
			SchedulingObject: x.o.ScheduleTag != "",
		})
		if err != nil {
			return err
		}
	}
	return nil
}

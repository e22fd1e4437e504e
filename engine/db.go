package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// DB is an Almanac store: the event log and its projections in one Pebble
// database. All methods are safe for concurrent use.
type DB struct {
	// groups caches the decoded group lists of privilege resolution.
	groups groupCache

	opts    Options
	dir     string
	pdb     *pebble.DB
	storeID string // random, fixed at creation; part of every sync token
	// secret is the store secret (secret.go); etags and tokens encrypt the
	// log positions in ETags and sync tokens with keys derived from it.
	secret        []byte
	etags, tokens sealer
	// runsDir is where a rebuild writes the tables it ingests, with
	// tableOpts (see runSink).
	runsDir   string
	tableOpts sstable.WriterOptions
	// cache is Pebble's block cache, alive while pdb holds it: Verify's
	// scratch database shares it (openScratch).
	cache *pebble.Cache

	corrupt corruptions // damaged files reads have met
	space   *space      // free-space guard (space.go)
	stats   writerStats // commit histograms and write stalls (stats.go)

	cmds       chan *request
	closing    chan struct{}
	writerDone chan struct{}
	closeOnce  sync.Once
	nextSeq    Seq // owned by the writer goroutine

	// conflicts counts the writer's lost races to append to a shared log
	// in a row (writer-owned); logConflicts all of them since Open.
	// followerDone is closed when the follower of a shared log stops.
	conflicts     int
	conflictSince time.Time // when the writer lost the first race of the run
	staleRetries  int       // runs of a refusing group after catching up (writer-owned)
	logConflicts  atomic.Int64
	followerDone  chan struct{}
	shared        *sharedState // what the node knows of the shared log (sharedlog.go)
	// replica: the database is a node's replica of a shared log, opened
	// without it; it refuses commands (errReplica).
	replica bool

	// mu guards view and headCh. The current view is the latest durable
	// state: the writer publishes a new one after each synced commit.
	mu     sync.Mutex
	view   *view
	headCh chan struct{} // closed (and replaced) when the head advances

	// putColls caches, per path, the collection PutObject validated the
	// last body against (path -> *Collection). It may be stale: the writer
	// checks the id and the component set again, and a put that finds the
	// collection changed or gone drops the entry and reads it afresh.
	putColls sync.Map

	// backupMu lets one Backup run at a time; walMu, held by Backup while
	// it copies the write-ahead logs, holds back the writes made outside
	// the writer goroutine (read-locked by them).
	backupMu sync.Mutex
	walMu    sync.RWMutex
	// lastBackup is the last backup made since Open (LastBackup).
	lastBackup atomic.Pointer[LastBackup]
}

// view is a refcounted Pebble snapshot of durable state.
type view struct {
	snap *pebble.Snapshot
	head Seq
	refs atomic.Int64
	// path is the collection path a lookup in this view resolved last
	// and its collection's id (see collectionByPath).
	path atomic.Pointer[pathID]
}

func (v *view) release() {
	if v.refs.Add(-1) == 0 {
		v.snap.Close()
	}
}

const metaStoreID = "store-id"

// Open opens (creating if needed) the database in dir.
func Open(dir string, opts *Options) (*DB, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	// Pebble charges memtables to the block cache: with only CacheSize,
	// one full memtable of a large database left blocks no room at all
	// (every read missed). The cache gets one memtable's worth on top.
	cache := pebble.NewCache(o.CacheSize + o.MemTableSize)
	defer cache.Unref()
	popts := &pebble.Options{
		Cache:              cache,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{o.Logger},
		MemTableSize:       uint64(o.MemTableSize),
		Cleaner:            noRecycleCleaner{},
	}
	// Bloom filters: a new object's put looks up its name, UID and
	// tombstone, all misses, which without filters visit every level.
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	// Pebble's fastest profile (MinLZ on amd64) rather than its default,
	// Snappy, kept for old formats: it decompresses faster, and a rebuild
	// or a history read decompresses the whole log.
	popts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionFastest })
	db := &DB{
		opts:       o,
		dir:        dir,
		runsDir:    o.FS.PathJoin(dir, runsDirName),
		cache:      cache,
		cmds:       make(chan *request, 4096),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
		headCh:     make(chan struct{}),
		stats:      newWriterStats(),
		shared:     newSharedState(),
	}
	// A damaged block fails the read that meets it; Pebble's default
	// listener would exit the process (see corrupt.go).
	popts.EventListener = &pebble.EventListener{DataCorruption: db.onCorruption}
	db.stats.listen(popts.EventListener)
	// Pebble must not meet a full disk (space.go): a reserve file that a
	// write meeting ENOSPC releases, made before Open, which writes.
	db.space = newSpace(o.FS, dir, &db.opts)
	popts.FS = scrubFS{vfs.OnDiskFull(compactionFS{FS: o.FS, s: db.space}, db.space.onDiskFull)}
	if o.ReadOnly {
		popts.ReadOnly, popts.ErrorIfNotExists, db.space.readOnly = true, true, true
	} else if err := o.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, noSpace(fmt.Errorf("engine: open %s: %w", dir, err))
	} else {
		popts.ReadOnly = !db.space.beforeOpen()
	}
	popts.EnsureDefaults()
	pdb, err := pebble.Open(dir, popts)
	if err != nil && isNoSpace(err) && !popts.ReadOnly {
		popts.ReadOnly = true
		pdb, err = pebble.Open(dir, popts)
	}
	if popts.ReadOnly && !o.ReadOnly && err == nil {
		// Not even room for what Pebble writes as it opens: serve reads,
		// refuse writes.
		o.Logger.Error("engine: the disk is full: the database is open read-only; writes get 507 until a restart with free space",
			"dir", dir, "free", db.space.avail())
		db.space.readOnly = true
	}
	if err != nil {
		db.space.close()
		return nil, openError(dir, err)
	}
	db.pdb = pdb
	db.space.start(pdb)
	db.tableOpts = popts.MakeWriterOptions(0, pdb.TableFormat())
	if err := db.init(); err != nil {
		db.space.close()
		_ = pdb.Close()
		return nil, err
	}
	if o.Log != nil {
		if err := db.catchUpAtOpen(); err != nil {
			if db.view != nil {
				db.view.release()
			}
			db.space.close()
			_ = pdb.Close()
			return nil, err
		}
	}
	go db.writeLoop()
	if o.Log != nil {
		db.followerDone = make(chan struct{})
		go db.follow()
	}
	return db, nil
}

// init reads or creates the store id and finds the head of the log.
func (db *DB) init() error {
	if err := db.forkBackup(); err != nil {
		return err
	}
	if !db.opts.ReadOnly {
		if err := db.removeScratch(); err != nil {
			return err
		}
	}
	id, err := getCopy(db.pdb, keys.MetaKey(metaStoreID))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("engine: store id: %w", err)
		}
		id = []byte(hex.EncodeToString(b[:]))
		if err := db.pdb.Set(keys.MetaKey(metaStoreID), id, pebble.Sync); err != nil {
			return fmt.Errorf("engine: write store id: %w", err)
		}
	case err != nil:
		return fmt.Errorf("engine: read store id: %w", err)
	}
	db.storeID = string(id)
	if db.secret, err = loadSecret(db.pdb); err != nil {
		return err
	}
	db.etags, db.tokens = newSealer(db.Secret("etag")), newSealer(db.Secret("sync-token"))
	moved, err := migrateLog(db.pdb)
	if err != nil {
		return err
	}
	if moved > 0 {
		db.opts.Logger.Info("engine: moved the log in front of the projections", "events", moved)
	}
	head, err := lastSeq(db.pdb)
	if err != nil {
		return err
	}
	db.nextSeq = head + 1
	if db.opts.Log != nil {
		if err := db.adoptIdentity(head); err != nil {
			return err
		}
	} else if _, err := getCopy(db.pdb, keys.MetaKey(metaShared)); err == nil {
		db.replica = true
	}
	if _, err := getCopy(db.pdb, keys.MetaKey(metaRebuilding)); err == nil {
		db.opts.Logger.Warn("engine: finishing an interrupted rebuild")
		return db.rebuild()
	}
	if db.opts.Rebuild {
		db.opts.Logger.Info("engine: rebuilding the projections from the log", "events", head)
		return db.rebuild()
	}
	v, err := getCopy(db.pdb, keys.MetaKey(metaProjections))
	if errors.Is(err, pebble.ErrNotFound) && head == 0 {
		// A new database: no log, so no projections, which are as this
		// version derives them. Record it, so that neither this Open nor
		// the next rebuilds (and says so).
		v = []byte(projectionVersion)
		if err := db.pdb.Set(keys.MetaKey(metaProjections), v, pebble.Sync); err != nil {
			return fmt.Errorf("engine: write projection version: %w", err)
		}
	}
	if string(v) != projectionVersion {
		db.opts.Logger.Info("engine: projections from another version: rebuilding them from the log",
			"found", string(v), "want", projectionVersion, "events", head)
		return db.rebuild()
	}
	db.publish(head)
	return nil
}

// lastSeq returns the sequence number of the last event in the log.
func lastSeq(r pebble.Reader) (Seq, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: []byte{keys.Log}, UpperBound: []byte{keys.Log + 1}})
	if err != nil {
		return 0, fmt.Errorf("engine: log iterator: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	seq, err := keys.ParseLogKey(it.Key())
	return Seq(seq), err
}

// publish makes the current Pebble state, durable up to head, the view that
// readers see, and wakes everyone waiting for the head to advance. It is
// called when no write is in flight: at open and after a rebuild.
func (db *DB) publish(head Seq) {
	db.publishSnapshot(db.pdb.NewSnapshot(), head)
}

// publishSnapshot makes snap, which shows durable state up to head, the
// view readers see.
func (db *DB) publishSnapshot(snap *pebble.Snapshot, head Seq) {
	v := &view{snap: snap, head: head}
	v.refs.Store(1)
	db.mu.Lock()
	old := db.view
	db.view = v
	ch := db.headCh
	if old == nil || head != old.head {
		db.headCh = make(chan struct{})
	}
	db.mu.Unlock()
	if old != nil {
		old.release()
		if head != old.head {
			close(ch)
		}
	}
}

// acquire returns the current view with a reference the caller must release.
func (db *DB) acquire() (*view, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.view == nil {
		return nil, ErrClosed
	}
	db.view.refs.Add(1)
	return db.view, nil
}

// StoreID returns the store's identity, fixed when the database was created.
func (db *DB) StoreID() string { return db.storeID }

// MaxObjectSize returns the largest accepted object body in bytes.
func (db *DB) MaxObjectSize() int64 { return db.opts.MaxObjectSize }

// Head returns the sequence number of the last durable event.
func (db *DB) Head() Seq {
	v, err := db.acquire()
	if err != nil {
		return 0
	}
	defer v.release()
	return v.head
}

// Close stops the writer after the commands already submitted and closes
// the database. Later calls return ErrClosed.
func (db *DB) Close() error {
	err := ErrClosed
	db.closeOnce.Do(func() {
		close(db.closing)
		<-db.writerDone
		if db.followerDone != nil {
			<-db.followerDone
		}
		db.mu.Lock()
		v := db.view
		db.view = nil
		close(db.headCh)
		db.mu.Unlock()
		if v != nil {
			v.release()
		}
		db.space.close()
		err = db.pdb.Close()
		if err != nil {
			err = fmt.Errorf("engine: close: %w", err)
		}
	})
	return err
}

// getCopy reads key from r and returns a copy of its value.
func getCopy(r pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, nil
}

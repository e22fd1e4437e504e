package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/almanac/almanac/engine"
)

// What a cluster node does when its database diverged from the log
// (--on-divergence).
const (
	// divergenceRejoin: move the database aside, keep it, and join again
	// from the log. The default: the log is what a quorum of nodes
	// acknowledged, the only history the cluster's clients were told
	// about; a node refusing to serve leaves the cluster one replica short
	// until someone notices, and nothing is deleted (the old database is
	// kept beside the new one for whoever wants to look at it).
	divergenceRejoin = "rejoin"
	// divergenceStop: refuse to start, for an operator who wants to look
	// at the node before it serves again.
	divergenceStop = "stop"
)

// maxRejoinAhead is how many events a replica may hold past the log's
// head and still rejoin by itself: what a few lost appends leave (one
// append carries at most 1,000 events). A replica further ahead, or any
// replica against an empty log, more likely faces a wiped or new stream
// or another cluster's (a wrong --log-nats-url) than a log that lost its
// last records: rejoining would serve every client an empty or foreign
// store, and clients that sync to it delete what they hold. Such a node
// refuses to start whatever --on-divergence says.
const maxRejoinAhead = 1000

// rejoinRefusal returns why a diverged database must not be moved aside
// without an operator, or nil when rejoining is safe.
func rejoinRefusal(err error) error {
	var ahead *engine.ReplicaAheadError
	if !errors.As(err, &ahead) {
		return nil
	}
	if ahead.Log == 0 {
		return fmt.Errorf("the log is empty while this node holds %d events: a new or wiped log stream, or another cluster's? Not rejoining an empty log by itself", ahead.Replica)
	}
	if ahead.Replica-ahead.Log > maxRejoinAhead {
		return fmt.Errorf("this node holds %d events past the log's head %d, more than the %d a log that lost its last appends leaves: not rejoining by itself", ahead.Replica-ahead.Log, ahead.Log, maxRejoinAhead)
	}
	return nil
}

// openClusterDB is openDB for a cluster node: a database that diverged
// from the log (engine.ErrDiverged: its last event is not the log's, or
// it is ahead of the log) is moved aside to DATA/db.diverged-TIME and the
// node opens an empty one, which replays the log as a node joining on an
// empty data directory does. With --on-divergence=stop it returns the
// error instead, and so does a database far ahead of the log or any
// against an empty log (rejoinRefusal). It moves a database aside once per start: one that
// diverges again right after is an error.
func (m *Main) openClusterDB(eopts *engine.Options) (*engine.DB, error) {
	db, err := openDB(m.Config.DataDir, eopts)
	if !errors.Is(err, engine.ErrDiverged) {
		return db, err
	}
	dir := filepath.Join(m.Config.DataDir, "db")
	if why := rejoinRefusal(err); why != nil {
		return nil, fmt.Errorf("%w: %w (check the cluster and --log-nats-url; to join this log anyway, move %s away)", err, why, dir)
	}
	if m.Config.Cluster.OnDivergence != divergenceRejoin {
		return nil, fmt.Errorf("%w (--on-divergence=%s: move %s away, or start with --on-divergence=%s, to join again from the log)", err, divergenceStop, dir, divergenceRejoin)
	}
	aside := filepath.Join(m.Config.DataDir, "db.diverged-"+time.Now().UTC().Format("20060102T150405.000Z"))
	if err := os.Rename(dir, aside); err != nil {
		return nil, fmt.Errorf("cluster: the database diverged from the log, and moving it aside failed: %w", err)
	}
	m.Logger.Warn("cluster: this node's database diverged from the log: moved it aside, kept, and joining again from the log",
		"err", err, "kept", aside)
	start := time.Now()
	db, err = openDB(m.Config.DataDir, eopts)
	if err != nil {
		return nil, fmt.Errorf("cluster: joining again from the log after moving the diverged database to %s: %w", aside, err)
	}
	m.Logger.Info("cluster: joined again from the log", "head", db.Head(), "took", time.Since(start).Round(time.Millisecond), "kept", aside)
	return db, nil
}

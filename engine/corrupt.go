package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/almanac/almanac/engine/internal/keys"
	cockroacherrors "github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
)

// On-disk corruption. Pebble checks a checksum on every block it reads; a
// mismatch fails that read with a corruption error and calls the event
// listener's DataCorruption. Pebble's default listener calls the logger's
// Fatalf, which exited the process on every read of a damaged block (and
// `almanac verify`, whose logger discarded everything, exited 1 with no
// word). The engine's listener logs the damage once per file, with the key
// range, and lets the read fail: the request that touched the block gets an
// error (a 500 over HTTP), every other read is served.

// ErrCorrupt marks an error caused by damaged data on disk. Callers test it
// with errors.Is; *CorruptionError says where.
var ErrCorrupt = errors.New("engine: on-disk corruption")

// DamagedFile is one file Pebble found damaged (a block whose checksum
// does not match) while reading.
type DamagedFile struct {
	Path string // the file, under the database directory
	// First and Last bound the keys the file holds (both included); the
	// damage is somewhere in between.
	First, Last []byte
	Err         string // what Pebble reported
}

// Range describes the file's key range for a person.
func (f DamagedFile) Range() string { return describeRange(f.First, f.Last) }

// SeqRange is an inclusive range of log sequence numbers.
type SeqRange struct{ First, Last Seq }

func (r SeqRange) String() string {
	if r.First == r.Last {
		return fmt.Sprintf("#%d", r.First)
	}
	return fmt.Sprintf("#%d..#%d", r.First, r.Last)
}

// CorruptionError reports damaged data that Verify found.
type CorruptionError struct {
	// LostLog are the log records that cannot be read. No rebuild brings
	// them back: the events, and the object bodies stored in them, are
	// only in the log.
	LostLog []SeqRange
	// Projections name the projection families whose records could not
	// all be read, each with where the damage starts.
	Projections []string
	// Files are the damaged files Pebble reported, with their key ranges.
	Files []DamagedFile
}

func (e *CorruptionError) Error() string {
	var b strings.Builder
	b.WriteString("engine: on-disk corruption")
	if len(e.LostLog) > 0 {
		var rs []string
		for _, r := range e.LostLog {
			rs = append(rs, r.String())
		}
		fmt.Fprintf(&b, "\n  unreadable log records: %s", strings.Join(rs, ", "))
	}
	for _, p := range e.Projections {
		fmt.Fprintf(&b, "\n  unreadable projection records: %s", p)
	}
	for _, f := range e.Files {
		fmt.Fprintf(&b, "\n  damaged file %s (keys %s): %s", f.Path, f.Range(), f.Err)
	}
	b.WriteString("\n" + e.Advice())
	return b.String()
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorrupt }

// Advice says what can be recovered and how.
func (e *CorruptionError) Advice() string {
	if len(e.LostLog) == 0 {
		return "The log is whole; only projections are damaged. Stop the server and run " +
			"`almanac rebuild --data DIR`: it drops the projections without reading them and replays the log " +
			"(nothing is lost). Then run `almanac verify --data DIR` again."
	}
	return "Log records are damaged: those events, and the object bodies stored in them, cannot be recovered " +
		"from this database, and a rebuild (which replays the whole log) cannot run. The server keeps serving " +
		"everything else; reads that need a lost record fail. Restore the data directory from a backup " +
		"(see README, \"Disk full and corruption\")."
}

// corruptions records the files Pebble reported damaged while the
// database is open, each logged once.
type corruptions struct {
	mu    sync.Mutex
	files map[string]DamagedFile
}

// onCorruption is Pebble's DataCorruption listener. It must not block: it
// is called on read paths.
func (db *DB) onCorruption(info pebble.DataCorruptionInfo) {
	f := DamagedFile{Path: info.Path, First: clone(info.Bounds.Start), Last: clone(info.Bounds.End.Key), Err: info.Details.Error()}
	db.corrupt.mu.Lock()
	_, seen := db.corrupt.files[f.Path]
	if !seen {
		if db.corrupt.files == nil {
			db.corrupt.files = make(map[string]DamagedFile)
		}
		db.corrupt.files[f.Path] = f
	}
	db.corrupt.mu.Unlock()
	if !seen {
		db.opts.Logger.Error("engine: on-disk corruption: reads of the damaged block fail, the rest is served; "+
			"run `almanac verify` to see what is lost and what `almanac rebuild` can recover",
			"file", f.Path, "keys", f.Range(), "err", f.Err)
	}
}

// scanLog reads the log records 1..head of r and returns the ranges of
// those that cannot be read. Past a damaged block it finds the first
// readable record by probing (a damaged block holds consecutive records),
// and reads on from there.
func scanLog(ctx context.Context, r pebble.Reader, head Seq) ([]SeqRange, error) {
	var lost []SeqRange
	for next := Seq(1); next <= head; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := func() error {
			it, err := r.NewIter(&pebble.IterOptions{LowerBound: keys.LogKey(uint64(next)), UpperBound: keys.LogKey(uint64(head) + 1)})
			if err != nil {
				return err
			}
			defer it.Close()
			for it.First(); it.Valid(); it.Next() {
				if _, err := it.ValueAndErr(); err != nil {
					return err
				}
				seq, err := keys.ParseLogKey(it.Key())
				if err != nil {
					return err
				}
				next = Seq(seq) + 1
			}
			if err := it.Error(); err != nil {
				return err
			}
			next = head + 1
			return nil
		}()
		if err == nil {
			break
		}
		if !pebble.IsCorruptionError(err) {
			return nil, fmt.Errorf("engine: read log: %w", err)
		}
		good := firstReadable(r, next, head)
		lost = append(lost, SeqRange{next, good - 1})
		next = good
	}
	return lost, nil
}

// firstReadable returns the first record after from (whose block is
// damaged) that can be read, or head+1: an exponential then a binary
// search over Gets.
func firstReadable(r pebble.Reader, from, head Seq) Seq {
	unreadable := func(s Seq) bool {
		_, err := getCopy(r, keys.LogKey(uint64(s)))
		return err != nil && pebble.IsCorruptionError(err)
	}
	bad, step := from, Seq(1)
	hi := head + 1
	for {
		x := from + step
		if x > head {
			break
		}
		if !unreadable(x) {
			hi = x
			break
		}
		bad, step = x, step*2
	}
	for bad+1 < hi { // bad is unreadable, hi readable (or past the head)
		mid := bad + (hi-bad)/2
		if unreadable(mid) {
			bad = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// scanProjections reads every projection record of r and names the
// families whose scan met a damaged block.
func scanProjections(ctx context.Context, r pebble.Reader) ([]string, error) {
	var damaged []string
	for _, p := range keys.ProjectionPrefixes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var last []byte
		err := func() error {
			it, err := r.NewIter(&pebble.IterOptions{LowerBound: []byte{p}, UpperBound: []byte{p + 1}})
			if err != nil {
				return err
			}
			defer it.Close()
			for it.First(); it.Valid(); it.Next() {
				if _, err := it.ValueAndErr(); err != nil {
					return err
				}
				last = append(last[:0], it.Key()...)
			}
			return it.Error()
		}()
		switch {
		case err == nil:
		case pebble.IsCorruptionError(err):
			where := "from its first record"
			if last != nil {
				where = "after " + describeKey(last)
			}
			damaged = append(damaged, familyNames[p]+" "+where)
		default:
			return nil, fmt.Errorf("engine: read projections: %w", err)
		}
	}
	return damaged, nil
}

// damagedFiles returns the files Pebble reported damaged since Open.
func (db *DB) damagedFiles() []DamagedFile {
	db.corrupt.mu.Lock()
	defer db.corrupt.mu.Unlock()
	var out []DamagedFile
	for _, f := range db.corrupt.files {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b DamagedFile) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// keyFamily returns the family byte of a key (0 for an empty key).
func keyFamily(k []byte) byte {
	if len(k) == 0 {
		return 0
	}
	return k[0]
}

var familyNames = map[byte]string{
	keys.Log: "log", keys.Meta: "meta", keys.Path: "paths", keys.Coll: "collections",
	keys.Obj: "objects", keys.Change: "change index", keys.Tomb: "tombstones", keys.UID: "UID index",
	keys.CollHist: "collection history", keys.ObjHist: "object history", keys.PathHist: "path history",
	keys.User: "users", keys.Token: "API tokens", keys.LegacyLog: "log (old layout)",
	keys.Group: "groups", keys.Share: "shares", keys.Home: "homes", keys.MemberOf: "group memberships",
	keys.Mount: "mounts", keys.Grants: "grants", keys.GrantedTo: "grants by grantee",
	keys.Proxy: "proxies", keys.ProxyOf: "proxies by delegate", keys.Link: "public links", keys.Links: "public links by collection",
	keys.Webhook: "webhooks", keys.TimeIdx: "time index",
	keys.Reschedule: "pending reschedules",
}

// describeKey names a key for a person: "log #123", "objects of
// collection 7 at \"x.ics\"", "paths at \"/alice/cal/\"".
func describeKey(k []byte) string {
	if len(k) == 0 {
		return "(start)"
	}
	fam, ok := familyNames[k[0]]
	if !ok {
		return strconv.Quote(string(k))
	}
	rest := k[1:]
	switch k[0] {
	case keys.Log, keys.LegacyLog:
		if len(rest) == 8 {
			seq, _ := keys.ParseU64(rest)
			return fmt.Sprintf("log #%d", seq)
		}
	case keys.Meta, keys.Path, keys.User, keys.Token, keys.Group, keys.Share, keys.Home, keys.MemberOf,
		keys.Mount, keys.GrantedTo, keys.Proxy, keys.ProxyOf, keys.Link, keys.Webhook:
		return fmt.Sprintf("%s at %q", fam, rest)
	case keys.PathHist:
		if i := bytes.IndexByte(rest, 0); i >= 0 {
			rest = rest[:i]
		}
		return fmt.Sprintf("%s at %q", fam, rest)
	default:
		if len(rest) >= 8 {
			id, _ := keys.ParseU64(rest[:8])
			return fmt.Sprintf("%s of collection %d", fam, id)
		}
	}
	return fam
}

// describeRange names the keys from first to last, and the families in
// between.
func describeRange(first, last []byte) string {
	s := describeKey(first) + " .. " + describeKey(last)
	lo, hi := keyFamily(first), keyFamily(last)
	var fams []string
	for _, p := range append([]byte{keys.Log, keys.Meta}, keys.ProjectionPrefixes...) {
		if p >= lo && p <= hi {
			fams = append(fams, familyNames[p])
		}
	}
	if len(fams) > 0 {
		s += " (" + strings.Join(fams, ", ") + ")"
	}
	return s
}

// walDetail matches the detail Pebble attaches to an error replaying a
// write-ahead log.
// ("replaying wal 5, offset (/data/db/000005.log: 52144)").
var walDetail = regexp.MustCompile(`replaying wal \d+, offset \((.+): (\d+)\)`)

// openError wraps an error of pebble.Open. Pebble keeps where a damaged
// write-ahead log failed in a detail of its error that the message leaves
// out; a damaged log is named in the message, with what to do.
func openError(dir string, err error) error {
	m := walDetail.FindStringSubmatch(cockroacherrors.FlattenDetails(err))
	if m == nil || !pebble.IsCorruptionError(err) {
		return fmt.Errorf("engine: open %s: %w", dir, err)
	}
	return fmt.Errorf("engine: open %s: %w: the write-ahead log %s is damaged at offset %s. "+
		"Keep a copy of the data directory; then either restore it from a backup, or truncate the log at that offset "+
		"(truncate -s %s %s), which keeps every change before the damage and loses the ones after it "+
		"(README, \"Disk full and corruption\")", dir, err, m[1], m[2], m[2], m[1])
}

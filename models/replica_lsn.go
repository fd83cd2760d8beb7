package models

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// LSN is a position in PostgreSQL's write-ahead log: what a replica has
// replayed, or where a commit ended.
type LSN uint64

// ParseLSN reads PostgreSQL's text form of an LSN, two hexadecimal
// halves: 16/B374D848.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || hi == "" || lo == "" || len(hi) > 8 || len(lo) > 8 {
		return 0, fmt.Errorf("not a WAL position: %q", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("not a WAL position: %q", s)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("not a WAL position: %q", s)
	}
	return LSN(h<<32 | l), nil
}

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF) }

// Reads is what a request's reads may use: a replica only once it has
// replayed the member's last commit (read-your-writes). The web layer
// puts one in each signed-in request's context, with the position kept in
// the session, and stores the position again when a change in the request
// moved it. A context without one (the API, background work, commands)
// reads from the primary.
type Reads struct {
	mu      sync.Mutex
	after   LSN
	moved   bool
	replica *replica // the replica this request reads from, once chosen
}

type readsKey struct{}

// WithReads returns ctx with a Reads that waits for after.
func WithReads(ctx context.Context, after LSN) (context.Context, *Reads) {
	r := &Reads{after: after}
	return context.WithValue(ctx, readsKey{}, r), r
}

// KeepReads returns ctx with the Reads of from, and its ReplicaReads
// mark, for work that outlives the request but reads on its behalf (an
// export's stream).
func KeepReads(ctx, from context.Context) context.Context {
	if r := readsOf(from); r != nil {
		ctx = context.WithValue(ctx, readsKey{}, r)
	}
	if replicaAllowed(from) {
		ctx = ReplicaReads(ctx)
	}
	return ctx
}

// ReplicaReads marks ctx's reads as ones a replica may serve: the
// handlers of the pages replicas serve (the users list and search, a
// user's page, the audit list, chart and history, the exports) mark their
// context, and the model functions those pages call read through
// readFrom. Anything else, and a context without Reads, reads from the
// primary.
func ReplicaReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, replicaOKKey{}, true)
}

type replicaOKKey struct{}

func replicaAllowed(ctx context.Context) bool {
	ok, _ := ctx.Value(replicaOKKey{}).(bool)
	return ok
}

func readsOf(ctx context.Context) *Reads {
	r, _ := ctx.Value(readsKey{}).(*Reads)
	return r
}

// After is the position a replica must have replayed to serve these reads.
func (r *Reads) After() LSN {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.after
}

// Moved reports whether a commit in this request moved After.
func (r *Reads) Moved() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.moved
}

// committed records a commit that ended at l.
func (r *Reads) committed(l LSN) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l > r.after {
		r.after, r.moved = l, true
	}
}

// chosen is the replica this request reads from, if it still may.
func (r *Reads) chosen() (*replica, LSN) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.replica, r.after
}

func (r *Reads) choose(rep *replica) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replica = rep
}

// noteCommit records, for the request ctx belongs to, where the commit
// that just returned ended, so its next reads wait for a replica to have
// replayed it. Only with replicas: without them there is nothing to wait
// for, and no query is sent.
func (db *DB) noteCommit(ctx context.Context, err error) {
	if err != nil || db.replicas == nil {
		return
	}
	r := readsOf(ctx)
	if r == nil {
		return
	}
	lsn, lerr := db.walPosition(context.WithoutCancel(ctx))
	if lerr != nil {
		// Unknown: nothing read from a replica in this session may come
		// before the commit, so read from the primary until the position
		// is known again (the largest position no replica reaches).
		lsn = LSN(^uint64(0) >> 1)
	}
	r.committed(lsn)
}

// walPosition is where the primary's write-ahead log ends: every commit
// that has returned lies before it.
func (db *DB) walPosition(ctx context.Context) (LSN, error) {
	var text string
	if err := db.pool.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&text); err != nil {
		return 0, err
	}
	return ParseLSN(text)
}

// errNoReplicaOnSQLite refuses replicas with the embedded database.
var errNoReplicaOnSQLite = errors.New("read replicas need PostgreSQL: the embedded SQLite file has none")

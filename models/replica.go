package models

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/gorm/logger"
)

// Read replicas (PostgreSQL streaming standbys) serve the reads that make
// up most of the portal's pages: the users list and its search, a user's
// page, the audit list, its chart, a record's history and the exports.
// Each of those model functions asks for its reader explicitly
// (readFrom); everything else, every write transaction and the session,
// CSRF, throttling and API-key checks, stays on the primary.
//
// A poller reads each replica's replay position in the background, so a
// request costs no extra round trip to choose: a replica serves a request
// only while it answers, lags no more than MaxLag behind the primary, and
// has replayed the member's last commit (Reads). A replica that fails a
// read is set aside at once and the read runs again on the primary: pages
// never fail because of a replica.

// DefaultReplicaMaxLag is how far behind the primary a replica may be and
// still serve reads.
const DefaultReplicaMaxLag = 5 * time.Second

// ReplicaOptions say how replicas are used.
type ReplicaOptions struct {
	// MaxLag is how far behind the primary a replica may be and still
	// serve reads; 0: DefaultReplicaMaxLag.
	MaxLag time.Duration
	// Poll is how often each replica's position is read; 0: a fifth of
	// MaxLag, between 100 ms and 1 s.
	Poll time.Duration
	// OnChange hears a replica starting or stopping to serve reads, with
	// why: for the log. It runs on the poller and must return at once.
	OnChange func(replica string, serving bool, reason string)
}

func (o ReplicaOptions) normalized() ReplicaOptions {
	if o.MaxLag <= 0 {
		o.MaxLag = DefaultReplicaMaxLag
	}
	if o.Poll <= 0 {
		o.Poll = min(max(o.MaxLag/5, 100*time.Millisecond), time.Second)
	}
	return o
}

// replica is one standby: its own pool and GORM handle (a DB of its own,
// read from only) and what the poller last learned of it.
type replica struct {
	name  string // host:port, never the URL: it may carry a password
	db    *DB
	state atomic.Pointer[replicaState]
	reads atomic.Int64
}

// replicaState is what one poll learned.
type replicaState struct {
	serving  bool          // answers, is a standby, lags within bounds
	reason   string        // why not, when not serving
	replayed LSN           // what it has replayed
	lag      time.Duration // how far behind the primary it is
	lagBytes uint64        // the WAL it has still to replay
	at       time.Time
}

// replicaSet is the DB's replicas and their poller.
type replicaSet struct {
	opts     ReplicaOptions
	list     []*replica
	next     atomic.Uint32 // round robin among those that may serve
	primary  atomic.Int64  // named reads the primary served
	fellBack atomic.Int64  // reads a replica failed, run again on the primary
	samples  []walSample   // the primary's recent positions, oldest first
	stop     chan struct{}
	done     sync.WaitGroup
	pollMu   sync.Mutex // one poll at a time (the poller, or a test's PollReplicas)
}

// walSample is the primary's WAL position at a moment.
type walSample struct {
	at  time.Time
	lsn LSN
}

// AddReplicas connects to read replicas of this PostgreSQL database and
// starts polling them. A replica that does not answer yet is not an
// error: it serves reads once it does. The URLs are checked here; they
// appear in no error or log, only their host:port.
func (db *DB) AddReplicas(urls []string, opts ReplicaOptions) error {
	if db.Dialect != Postgres {
		return errNoReplicaOnSQLite
	}
	if db.replicas != nil {
		return errors.New("replicas already added")
	}
	if len(urls) == 0 {
		return nil
	}
	set := &replicaSet{opts: opts.normalized(), stop: make(chan struct{})}
	for i, u := range urls {
		r, err := db.openReplica(u)
		if err != nil {
			for _, r := range set.list {
				r.db.closeReplica()
			}
			return fmt.Errorf("replica %d: %w", i+1, err)
		}
		r.state.Store(&replicaState{reason: "not polled yet"})
		set.list = append(set.list, r)
	}
	db.replicas = set
	set.poll(context.Background(), db)
	set.done.Add(1)
	go set.run(db)
	return nil
}

// openReplica opens a pool on one replica, as the primary's is opened,
// sharing its statement watch; no connection is made until it is polled.
func (db *DB) openReplica(dsn string) (*replica, error) {
	cfg, err := pgxpool.ParseConfig(PostgresDSN(dsn))
	if err != nil {
		return nil, errors.New("not a PostgreSQL URL")
	}
	name := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	if !sameDSNParam(dsn, "pool_max_conns") {
		cfg.MaxConns = 20
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.ConnConfig.Tracer = db.watch
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	gc := gormConfig(logger.Default.LogMode(logger.Silent))
	// A replica down at start is no error: the poller finds it later.
	gc.DisableAutomaticPing = true
	g, err := openGormOnPool(pool, gc)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	rdb := &DB{gorm: g, Dialect: Postgres, pool: pool, watch: db.watch, fields: db.fields, env: db.env, clock: db.clock}
	return &replica{name: name, db: rdb}, nil
}

func sameDSNParam(dsn, key string) bool { return withDefaultParam(dsn, key, "x") == dsn }

func (db *DB) closeReplica() {
	if sqlDB, err := db.gorm.DB(); err == nil {
		sqlDB.Close()
	}
	db.pool.Close()
}

func (s *replicaSet) close() {
	close(s.stop)
	s.done.Wait()
	for _, r := range s.list {
		r.db.closeReplica()
	}
}

func (s *replicaSet) run(db *DB) {
	defer s.done.Done()
	t := time.NewTicker(s.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.poll(context.Background(), db)
		}
	}
}

// PollReplicas reads every replica's position now, as the poller does
// every ReplicaOptions.Poll: for tests, and for a caller that cannot wait.
func (db *DB) PollReplicas(ctx context.Context) {
	if db.replicas != nil {
		db.replicas.poll(ctx, db)
	}
}

// poll reads the primary's position, then each replica's, and judges each.
func (s *replicaSet) poll(ctx context.Context, db *DB) {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, max(s.opts.Poll, time.Second))
	defer cancel()
	now := time.Now()
	primary, perr := db.walPosition(ctx)
	if perr == nil {
		s.samples = append(s.samples, walSample{now, primary})
	}
	// Keep what a lag within bounds, and a little more, needs.
	keep := now.Add(-(s.opts.MaxLag + 3*s.opts.Poll))
	for len(s.samples) > 1 && s.samples[0].at.Before(keep) {
		s.samples = s.samples[1:]
	}
	var wg sync.WaitGroup
	for _, r := range s.list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s.judge(ctx, r, now, perr)
			old := r.state.Swap(st)
			if s.opts.OnChange != nil && (old == nil || old.serving != st.serving) {
				s.opts.OnChange(r.name, st.serving, st.reason)
			}
		}()
	}
	wg.Wait()
}

// judge polls one replica and says whether it may serve reads.
func (s *replicaSet) judge(ctx context.Context, r *replica, now time.Time, primaryErr error) *replicaState {
	var recovering bool
	var replayed *string
	var replayedAt *time.Time
	err := r.db.pool.QueryRow(ctx, `SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,
		pg_last_xact_replay_timestamp()`).Scan(&recovering, &replayed, &replayedAt)
	st := &replicaState{at: now}
	switch {
	case err != nil:
		st.reason = "does not answer"
		return st
	case !recovering || replayed == nil:
		st.reason = "is not a standby"
		return st
	}
	if st.replayed, err = ParseLSN(*replayed); err != nil {
		st.reason = "reports no replay position"
		return st
	}
	if primaryErr != nil || len(s.samples) == 0 {
		// Without the primary's position its lag is unknown.
		st.reason = "lag unknown: the primary's position could not be read"
		return st
	}
	st.lag, st.lagBytes = replicaLag(s.samples, st.replayed, replayedAt, now)
	if st.lag > s.opts.MaxLag {
		st.reason = fmt.Sprintf("lags %s behind the primary (bound %s)", st.lag.Round(time.Millisecond), s.opts.MaxLag)
		return st
	}
	st.serving = true
	return st
}

// replicaLag is how far behind the primary a replica that has replayed up
// to replayed is, from the primary's recent positions (oldest first): the
// time since the primary first had WAL the replica still lacks. When even
// the oldest position kept is past it, the lag is at least that old, or
// the age of the last transaction it replayed, whichever is more. A
// replica that has replayed the newest position lags nothing, however old
// its last transaction: the primary has written nothing since.
func replicaLag(samples []walSample, replayed LSN, replayedAt *time.Time, now time.Time) (time.Duration, uint64) {
	newest := samples[len(samples)-1]
	if replayed >= newest.lsn {
		return 0, 0
	}
	behind := uint64(newest.lsn - replayed)
	i := sort.Search(len(samples), func(i int) bool { return samples[i].lsn > replayed })
	lag := now.Sub(samples[i].at)
	if i == 0 && replayedAt != nil {
		lag = max(lag, now.Sub(*replayedAt))
	}
	return max(lag, 0), behind
}

// readFrom runs fn, a named read, on a replica that may serve ctx's
// request, else on the primary; should the replica fail it, fn runs
// again on the primary. wait is how long to wait for a replica to replay
// the request's own commit before choosing the primary: an export, which
// reads much and follows its own audit entry, waits a little.
func readFrom[T any](ctx context.Context, db *DB, wait time.Duration, fn func(*DB) (T, error)) (T, error) {
	r := db.replicaFor(ctx, wait)
	if r == nil {
		if db.replicas != nil && replicaAllowed(ctx) {
			db.replicas.primary.Add(1)
		}
		return fn(db)
	}
	v, err := fn(r.db)
	switch {
	case err == nil || ctx.Err() != nil:
		r.reads.Add(1)
		return v, err
	case ErrorKind(err) == KindNotFound:
		// Another member's record may be newer than the replica: only the
		// primary can say it does not exist.
	case isDomainError(err):
		r.reads.Add(1)
		return v, err
	default:
		db.replicas.setAside(r, "a read failed")
		if reads := readsOf(ctx); reads != nil {
			reads.choose(nil)
		}
		db.replicas.fellBack.Add(1)
	}
	db.replicas.primary.Add(1)
	return fn(db)
}

// readEach is readFrom for a read that hands rows to fn as it goes (an
// export): once a row has gone out, a failure is the read's, not retried.
func readEach(ctx context.Context, db *DB, wait time.Duration, read func(db *DB, fn func() error) error, row func() error) error {
	sent := false
	_, err := readFrom(ctx, db, wait, func(d *DB) (struct{}, error) {
		err := read(d, func() error {
			sent = true
			return row()
		})
		if err != nil && sent && d != db {
			// Already partly sent: not to be run again.
			return struct{}{}, &sentError{err}
		}
		return struct{}{}, err
	})
	var s *sentError
	if errors.As(err, &s) {
		return s.err
	}
	return err
}

// sentError is a read's failure after it handed out rows.
type sentError struct{ err error }

func (e *sentError) Error() string { return e.err.Error() }

func isDomainError(err error) bool {
	var e *Error
	var s *sentError
	return errors.As(err, &e) || errors.As(err, &s)
}

// setAside stops a replica serving reads until the next poll finds it
// well.
func (s *replicaSet) setAside(r *replica, reason string) {
	old := r.state.Load()
	st := &replicaState{reason: reason, at: time.Now()}
	if old != nil {
		st.replayed, st.lag, st.lagBytes = old.replayed, old.lag, old.lagBytes
	}
	r.state.Store(st)
	if s.opts.OnChange != nil && old != nil && old.serving {
		s.opts.OnChange(r.name, false, reason)
	}
}

// replicaFor chooses the replica ctx's request reads from, or nil for the
// primary: only a request with Reads may use one, and only a replica that
// serves and has replayed the request's last commit. A request keeps the
// replica it was given while it may.
func (db *DB) replicaFor(ctx context.Context, wait time.Duration) *replica {
	s := db.replicas
	reads := readsOf(ctx)
	if s == nil || reads == nil || !replicaAllowed(ctx) {
		return nil
	}
	chosen, after := reads.chosen()
	if chosen != nil && chosen.serves(after) {
		return chosen
	}
	if r := s.pick(after); r != nil {
		reads.choose(r)
		return r
	}
	if wait <= 0 {
		return nil
	}
	// Ask the replicas that serve, but have not replayed after yet, how
	// far they are, until one has or wait is up.
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, r := range s.list {
			if st := r.state.Load(); st == nil || !st.serving {
				continue
			}
			var replayed *string
			qctx, cancel := context.WithDeadline(ctx, deadline)
			err := r.db.pool.QueryRow(qctx, "SELECT pg_last_wal_replay_lsn()::text").Scan(&replayed)
			cancel()
			if err != nil || replayed == nil {
				continue
			}
			if l, err := ParseLSN(*replayed); err == nil && l >= after {
				reads.choose(r)
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// serves reports whether r may serve a read that must follow after.
func (r *replica) serves(after LSN) bool {
	st := r.state.Load()
	return st != nil && st.serving && st.replayed >= after
}

// pick is the next replica, round robin, that may serve a read that must
// follow after.
func (s *replicaSet) pick(after LSN) *replica {
	n := len(s.list)
	start := int(s.next.Add(1))
	for i := range n {
		r := s.list[(start+i)%n]
		if r.serves(after) {
			return r
		}
	}
	return nil
}

// ReplicaStatus is one replica as the poller last saw it.
type ReplicaStatus struct {
	Name     string // host:port
	Serving  bool   // serves reads
	Reason   string // why not, when not serving
	Replayed LSN
	Lag      time.Duration
	LagBytes uint64
	Reads    int64 // named reads it served
}

// ReplicaStats are the replicas and the named reads each target served.
type ReplicaStats struct {
	Replicas []ReplicaStatus
	// PrimaryReads counts the named reads the primary served while
	// replicas were configured: those no replica could serve. FellBack
	// counts the reads a replica failed, run again on the primary.
	PrimaryReads int64
	FellBack     int64
}

// ReplicaStats reads the replicas' state and counters; it sends no query.
func (db *DB) ReplicaStats() ReplicaStats {
	s := db.replicas
	if s == nil {
		return ReplicaStats{}
	}
	out := ReplicaStats{PrimaryReads: s.primary.Load(), FellBack: s.fellBack.Load()}
	for _, r := range s.list {
		st := r.state.Load()
		out.Replicas = append(out.Replicas, ReplicaStatus{Name: r.name, Serving: st.serving, Reason: st.reason,
			Replayed: st.replayed, Lag: st.lag, LagBytes: st.lagBytes, Reads: r.reads.Load()})
	}
	return out
}

// HasReplicas reports whether read replicas were added.
func (db *DB) HasReplicas() bool { return db.replicas != nil }

// exportCatchUp is how long an export waits for a replica to replay the
// audit entry it has just written (usually a few milliseconds) before it
// reads from the primary instead.
const exportCatchUp = 500 * time.Millisecond
